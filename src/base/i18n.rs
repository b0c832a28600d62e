//! Translations: the `redspice` gettext domain.
//!
//! Messages users may see (GError texts) go through [`gettext`]. The catalogue
//! directory is the install prefix's locale dir, or `REDSPICE_LOCALEDIR` when
//! set (the build tree's `meson devenv` sets it so tests see the `.mo` files
//! built from `po/`).

use std::sync::Once;

/// The gettext domain of this library.
pub const GETTEXT_PACKAGE: &str = "redspice";

static INIT: Once = Once::new();

fn localedir() -> String {
    if let Ok(dir) = std::env::var("REDSPICE_LOCALEDIR") {
        return dir;
    }
    option_env!("REDSPICE_INSTALL_LOCALEDIR")
        .unwrap_or("/usr/local/share/locale")
        .to_string()
}

/// Binds the domain once; called before the first translation.
pub fn init() {
    INIT.call_once(|| {
        // Failing to bind only means untranslated messages.
        let _ = gettextrs::bindtextdomain(GETTEXT_PACKAGE, localedir());
        let _ = gettextrs::bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
    });
}

/// Translates `msgid` in the `redspice` domain (never the application's).
pub fn gettext(msgid: &str) -> String {
    init();
    gettextrs::dgettext(GETTEXT_PACKAGE, msgid)
}

//! Translations of the messages the sink posts (element errors), in the
//! library's `redspice` gettext domain, whose catalogues `po/` builds.
//! The catalogue directory is found as the library finds it: the build
//! tree's when `REDSPICE_LOCALEDIR` is set (`meson devenv`), else the
//! install prefix's.

use std::sync::Once;

const GETTEXT_PACKAGE: &str = "redspice";

static INIT: Once = Once::new();

/// Translates `msgid`.
pub fn gettext(msgid: &str) -> String {
    INIT.call_once(|| {
        let dir = std::env::var("REDSPICE_LOCALEDIR").unwrap_or_else(|_| {
            option_env!("REDSPICE_INSTALL_LOCALEDIR")
                .unwrap_or("/usr/local/share/locale")
                .to_string()
        });
        // Failing to bind only means untranslated messages.
        let _ = gettextrs::bindtextdomain(GETTEXT_PACKAGE, dir);
        let _ = gettextrs::bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
    });
    gettextrs::dgettext(GETTEXT_PACKAGE, msgid)
}

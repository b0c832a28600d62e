// Links the plugin to libredspice-1.0.so (never to a copy of the crate: an
// application passing its own RedServer must see one RedServer GType).
// meson sets REDSPICE_LIB_DIR to its build directory; otherwise pkg-config
// finds an installed redspice-1.0. Without either, checking (cargo check,
// clippy) still works; linking then fails to find -lredspice-1.0.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=REDSPICE_LIB_DIR");
    match std::env::var("REDSPICE_LIB_DIR") {
        Ok(dir) if !dir.is_empty() => {
            println!("cargo:rustc-link-search=native={dir}");
            println!("cargo:rustc-link-lib=dylib=redspice-1.0");
        }
        _ => {
            if let Err(e) = pkg_config::Config::new().probe("redspice-1.0") {
                println!(
                    "cargo:warning=redspice-1.0 not found (set REDSPICE_LIB_DIR or PKG_CONFIG_PATH): {e}"
                );
                println!("cargo:rustc-link-lib=dylib=redspice-1.0");
            }
        }
    }
}

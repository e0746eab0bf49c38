//! Files embedded in the binary: demo data now, UI templates and the widget later.

use include_dir::{include_dir, Dir};

pub static ASSETS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/assets");

/// The demo business loaded by `serve --demo` and `init --demo`.
pub fn demo_business() -> Option<&'static str> {
    ASSETS.get_file("demo/acme-plumbing.toml")?.contents_utf8()
}

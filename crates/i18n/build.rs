//! Embeds every `locales/<lang>/*.ftl` of the repository: a file added to a language
//! folder is compiled in without a code change, and an unknown language folder stops
//! the build instead of being ignored.

use std::fmt::Write;
use std::path::Path;

/// The language folders the crate knows (see `Lang` in lib.rs).
const LANGS: [&str; 2] = ["zh-CN", "en"];

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../locales");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut out = String::from(
        "/// Every embedded catalog file: (language folder, file name, contents).\n\
         pub(crate) static FILES: &[(&str, &str, &str)] = &[\n",
    );
    let mut folders: Vec<String> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", root.display()))
        .filter_map(|d| d.ok())
        .filter(|d| d.path().is_dir())
        .map(|d| d.file_name().to_string_lossy().into_owned())
        .collect();
    folders.sort();
    for lang in &folders {
        assert!(
            LANGS.contains(&lang.as_str()),
            "locales/{lang}: unknown language; add it to Lang in crates/i18n"
        );
        let dir = root.join(lang);
        println!("cargo:rerun-if-changed={}", dir.display());
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
            .filter_map(|d| d.ok())
            .map(|d| d.path())
            .filter(|p| p.extension().is_some_and(|x| x == "ftl"))
            .collect();
        files.sort();
        for file in files {
            let name = file.file_name().unwrap_or_default().to_string_lossy();
            let path = file
                .canonicalize()
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            println!("cargo:rerun-if-changed={}", path.display());
            let _ = writeln!(
                out,
                "    ({lang:?}, {name:?}, include_str!({:?})),",
                path.display().to_string()
            );
        }
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap_or_default()).join("files.rs");
    std::fs::write(&dest, out).unwrap_or_else(|e| panic!("{}: {e}", dest.display()));
}

# Shared set-up for scripts/demo and scripts/test: installs what is missing on a
# Debian 12 / Ubuntu machine. Source it; do not run it.

# Runs a command as root (directly when we are root, else through sudo).
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# ensure_packages PKG...: apt-get installs the Debian packages that are missing.
ensure_packages() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "==> installing ${missing[*]}"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# ensure_rust: cargo with rustfmt and clippy.
ensure_rust() {
    if ! command -v cargo >/dev/null 2>&1; then
        if [ -x "$HOME/.cargo/bin/cargo" ]; then
            export PATH="$HOME/.cargo/bin:$PATH"
        else
            echo "cargo is missing: install Rust from https://rustup.rs (stable) and rerun" >&2
            exit 1
        fi
    fi
    if command -v rustup >/dev/null 2>&1; then
        rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
        rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
    fi
}

# System packages every part of CertKey's build and tests needs.
BASE_PACKAGES=(build-essential pkg-config openssl curl softhsm2 opensc opensc-pkcs11 p11-kit)

# kryoptic: a third-party PKCS#11 soft token (Rust, from crates.io) that locks the user
# PIN after 10 wrong tries. Built once into the tools cache; CERTKEY_KRYOPTIC names it.
KRYOPTIC_VERSION=1.5.4
ensure_kryoptic() {
    local dir="${CERTKEY_TOOLS_DIR:-$HOME/.cache/certkey-tools}/kryoptic-$KRYOPTIC_VERSION"
    local lib="$dir/libkryoptic_pkcs11.so"
    if [ ! -f "$lib" ]; then
        ensure_packages libclang-dev libssl-dev libsqlite3-dev
        echo "==> building kryoptic $KRYOPTIC_VERSION with cargo (once; a few minutes)"
        local work
        work=$(mktemp -d)
        mkdir -p "$work/fetch/src"
        cat > "$work/fetch/Cargo.toml" <<TOML
[package]
name = "fetch-kryoptic"
version = "0.0.0"
edition = "2021"
[dependencies]
kryoptic = { version = "=$KRYOPTIC_VERSION", default-features = false }
[workspace]
TOML
        : > "$work/fetch/src/lib.rs"
        local manifest
        manifest=$(cd "$work/fetch" && cargo metadata --format-version 1 \
            | python3 -c 'import json,sys; m=json.load(sys.stdin); print(next(p["manifest_path"] for p in m["packages"] if p["name"]=="kryoptic"))')
        cp -r "$(dirname "$manifest")" "$work/kryoptic"
        # Debian 12's OpenSSL 3.0: link it dynamically, minimal algorithm set (no SM2).
        (cd "$work/kryoptic" && CARGO_TARGET_DIR="$work/target" cargo build --release \
            --no-default-features --features minimal,kryoptic-lib/dynamic)
        mkdir -p "$dir"
        cp "$work/target/release/libkryoptic_pkcs11.so" "$lib.tmp"
        mv "$lib.tmp" "$lib"
        rm -rf "$work"
    fi
    export CERTKEY_KRYOPTIC="$lib"
}

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

# target_dir: cargo's target directory (CARGO_TARGET_DIR or the workspace's).
target_dir() {
    cargo metadata --format-version 1 --no-deps \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])'
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

# The desktop app (Tauri 2 on WebKitGTK) and its end-to-end tests: the real window
# under Xvfb, driven by tauri-driver through WebKitWebDriver; a CJK font so that
# Chinese renders (and shows in screenshots).
APP_PACKAGES=(libwebkit2gtk-4.1-dev libgtk-3-dev librsvg2-dev libayatana-appindicator3-dev fonts-noto-cjk)
E2E_PACKAGES=(webkit2gtk-driver xvfb xauth dunst)

# ensure_node: Node.js 20+ with npm (for the app's frontend).
ensure_node() {
    local major=0
    if command -v node >/dev/null 2>&1; then
        major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
    fi
    if [ "$major" -lt 20 ] || ! command -v npm >/dev/null 2>&1; then
        ensure_packages nodejs npm
        major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
        if [ "$major" -lt 20 ]; then
            echo "Node.js 20 or newer is needed for the app's frontend (found $(node --version 2>/dev/null))" >&2
            exit 1
        fi
    fi
}

# ensure_ui: the frontend's packages (exactly as locked) and its build in ui/dist,
# which the app embeds: it must exist before cargo builds src-tauri.
ensure_ui() {
    ensure_node
    if [ ! -d ui/node_modules ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
        echo "==> npm ci (ui)"
        (cd ui && npm ci --no-audit --no-fund --loglevel=error)
    fi
    echo "==> npm run build (ui)"
    (cd ui && npm run --silent build)
}

# tauri-driver: the WebDriver front of the app window, built once into the tools cache.
TAURI_DRIVER_VERSION=2.1.0
ensure_tauri_driver() {
    local root="${CERTKEY_TOOLS_DIR:-$HOME/.cache/certkey-tools}/tauri-driver-$TAURI_DRIVER_VERSION"
    if [ ! -x "$root/bin/tauri-driver" ]; then
        echo "==> cargo install tauri-driver $TAURI_DRIVER_VERSION (once)"
        cargo install tauri-driver --locked --version "=$TAURI_DRIVER_VERSION" --root "$root" --quiet
    fi
    export TAURI_DRIVER="$root/bin/tauri-driver"
}

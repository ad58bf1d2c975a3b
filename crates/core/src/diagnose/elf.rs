//! The architecture a module file was built for, read from its ELF header, so that a
//! 32-bit module on a 64-bit system (or an ARM one on x86) is named as such instead
//! of as the loader's terse "wrong ELF class".

use std::io::Read;
use std::path::Path;

/// What an ELF header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElfArch {
    /// e_machine.
    pub machine: u16,
    /// 64-bit (ELFCLASS64).
    pub bits64: bool,
}

impl ElfArch {
    /// A readable name, e.g. `x86_64`, `x86 (32-bit)`, `aarch64`.
    pub fn name(self) -> String {
        let base = match (self.machine, self.bits64) {
            (3, _) => "x86",
            (62, true) => "x86_64",
            (62, false) => "x32",
            (40, _) => "arm",
            (183, _) => "aarch64",
            (8, _) => "mips",
            (21, _) => "ppc64",
            (20, _) => "ppc",
            (22, _) => "s390x",
            (243, _) => "riscv",
            (258, _) => "loongarch",
            (m, _) => {
                return format!(
                    "machine {m} ({})",
                    if self.bits64 { "64-bit" } else { "32-bit" }
                )
            }
        };
        match (base, self.bits64) {
            ("x86_64" | "x32" | "aarch64" | "ppc64" | "s390x", _) => base.to_string(),
            (b, true) => format!("{b} (64-bit)"),
            (b, false) => format!("{b} (32-bit)"),
        }
    }
}

/// Parses the first bytes of a file as an ELF header; `None` when it is not ELF.
pub fn parse(head: &[u8]) -> Option<ElfArch> {
    if head.len() < 20 || &head[..4] != b"\x7fELF" {
        return None;
    }
    let bits64 = match head[4] {
        1 => false,
        2 => true,
        _ => return None,
    };
    let machine = match head[5] {
        1 => u16::from_le_bytes([head[18], head[19]]),
        2 => u16::from_be_bytes([head[18], head[19]]),
        _ => return None,
    };
    Some(ElfArch { machine, bits64 })
}

/// Reads a file's ELF header.
pub fn of_file(path: &Path) -> Option<ElfArch> {
    let mut head = [0u8; 20];
    let mut f = std::fs::File::open(path).ok()?;
    f.read_exact(&mut head).ok()?;
    parse(&head)
}

/// The architecture this program was built for, as an ELF header would say it.
pub fn own() -> Option<ElfArch> {
    let machine = match std::env::consts::ARCH {
        "x86" => 3,
        "x86_64" => 62,
        "arm" => 40,
        "aarch64" => 183,
        "mips" | "mips64" => 8,
        "powerpc" => 20,
        "powerpc64" => 21,
        "s390x" => 22,
        "riscv64" | "riscv32" => 243,
        "loongarch64" => 258,
        _ => return None,
    };
    Some(ElfArch {
        machine,
        bits64: cfg!(target_pointer_width = "64"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(class: u8, data: u8, machine: u16) -> Vec<u8> {
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = class;
        h[5] = data;
        let m = if data == 1 {
            machine.to_le_bytes()
        } else {
            machine.to_be_bytes()
        };
        h[18..20].copy_from_slice(&m);
        h
    }

    #[test]
    fn headers_name_their_architecture() {
        assert_eq!(
            parse(&header(2, 1, 62)).map(ElfArch::name).as_deref(),
            Some("x86_64")
        );
        assert_eq!(
            parse(&header(1, 1, 3)).map(ElfArch::name).as_deref(),
            Some("x86 (32-bit)")
        );
        assert_eq!(
            parse(&header(2, 1, 183)).map(ElfArch::name).as_deref(),
            Some("aarch64")
        );
        assert_eq!(
            parse(&header(2, 1, 258)).map(ElfArch::name).as_deref(),
            Some("loongarch (64-bit)")
        );
        assert_eq!(parse(&header(2, 2, 21)).map(|a| a.machine), Some(21));
        assert_eq!(parse(b"MZ\x90\x00 not an ELF file at all"), None);
        assert_eq!(parse(&header(3, 1, 62)), None);
        assert_eq!(parse(b"\x7fELF"), None);
    }

    #[test]
    fn this_program_matches_its_own_build() {
        let exe = std::env::current_exe().expect("test binary");
        if cfg!(target_os = "linux") {
            assert_eq!(of_file(&exe), own());
        }
    }
}

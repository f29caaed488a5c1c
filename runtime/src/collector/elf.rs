//! ELF hardening read from the headers alone: the file header, the program
//! headers, the dynamic section and the dynamic string table, each read at
//! its offset with a size cap. A binary is never read whole (reading whole
//! executables was most of the collector's memory), and a malformed or
//! hostile file gives no answer, never a panic or a large allocation.

use std::fs::File;
use std::os::unix::fs::FileExt;

/// PIE, non-executable stack, RELRO and stack protector of an ELF image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hardening {
    pub pie: bool,
    pub nx_stack: bool,
    /// `none`, `partial` or `full`.
    pub relro: &'static str,
    pub stack_protector: bool,
}

const MAX_PROGRAM_HEADERS: u64 = 1024;
const MAX_PROGRAM_HEADER_SIZE: u64 = 256;
const MAX_DYNAMIC: u64 = 64 << 10;
/// The dynamic string table is searched in chunks of this size.
const CHUNK: usize = 64 << 10;
const MAX_DYNSTR: u64 = 16 << 20;

const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const PT_GNU_STACK: u32 = 0x6474_e551;
const PT_GNU_RELRO: u32 = 0x6474_e552;
const PF_X: u32 = 1;
const ET_DYN: u64 = 3;
const DT_NULL: u64 = 0;
const DT_STRTAB: u64 = 5;
const DT_STRSZ: u64 = 10;
const DT_FLAGS: u64 = 30;
const DT_FLAGS_1: u64 = 0x6fff_fffb;
const DF_BIND_NOW: u64 = 0x8;
const DF_1_NOW: u64 = 0x1;
const DF_1_PIE: u64 = 0x0800_0000;

/// How the file's numbers are laid out.
#[derive(Clone, Copy)]
struct Layout {
    wide: bool,
    big_endian: bool,
}

impl Layout {
    fn u16(self, b: &[u8], at: usize) -> Option<u64> {
        let bytes: [u8; 2] = b.get(at..at + 2)?.try_into().ok()?;
        Some(u64::from(if self.big_endian { u16::from_be_bytes(bytes) } else { u16::from_le_bytes(bytes) }))
    }

    fn u32(self, b: &[u8], at: usize) -> Option<u64> {
        let bytes: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
        Some(u64::from(if self.big_endian { u32::from_be_bytes(bytes) } else { u32::from_le_bytes(bytes) }))
    }

    fn u64(self, b: &[u8], at: usize) -> Option<u64> {
        let bytes: [u8; 8] = b.get(at..at + 8)?.try_into().ok()?;
        Some(if self.big_endian { u64::from_be_bytes(bytes) } else { u64::from_le_bytes(bytes) })
    }

    /// A word: 8 bytes in ELF64, 4 in ELF32.
    fn word(self, b: &[u8], at: usize) -> Option<u64> {
        if self.wide {
            self.u64(b, at)
        } else {
            self.u32(b, at)
        }
    }
}

struct Segment {
    kind: u32,
    flags: u32,
    offset: u64,
    vaddr: u64,
    filesz: u64,
}

fn read_at(file: &File, offset: u64, len: u64) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; usize::try_from(len).ok()?];
    file.read_exact_at(&mut buf, offset).ok()?;
    Some(buf)
}

/// The hardening of the ELF image in `file`; `None` when it is not one or
/// its headers do not hold together.
pub fn hardening(file: &File) -> Option<Hardening> {
    let header = read_at(file, 0, 64).or_else(|| read_at(file, 0, 52))?;
    if header.get(..4)? != b"\x7fELF" {
        return None;
    }
    let layout = Layout {
        wide: match header.get(4)? {
            1 => false,
            2 => true,
            _ => return None,
        },
        big_endian: match header.get(5)? {
            1 => false,
            2 => true,
            _ => return None,
        },
    };
    let e_type = layout.u16(&header, 16)?;
    let (phoff, phentsize, phnum) = if layout.wide {
        (layout.u64(&header, 32)?, layout.u16(&header, 54)?, layout.u16(&header, 56)?)
    } else {
        (layout.u32(&header, 28)?, layout.u16(&header, 42)?, layout.u16(&header, 44)?)
    };
    let min_entry = if layout.wide { 56 } else { 32 };
    // Real entries are 56 or 32 bytes; a larger claimed size would only make
    // a hostile header cost memory (1024 × 64 KiB).
    if phnum > MAX_PROGRAM_HEADERS
        || (phnum > 0 && !(min_entry..=MAX_PROGRAM_HEADER_SIZE).contains(&phentsize))
    {
        return None;
    }
    let table = if phnum == 0 { Vec::new() } else { read_at(file, phoff, phnum * phentsize)? };
    let segments: Vec<Segment> = (0..phnum as usize)
        .map(|i| {
            let b = &table[i * phentsize as usize..];
            Some(if layout.wide {
                Segment {
                    kind: layout.u32(b, 0)? as u32,
                    flags: layout.u32(b, 4)? as u32,
                    offset: layout.u64(b, 8)?,
                    vaddr: layout.u64(b, 16)?,
                    filesz: layout.u64(b, 32)?,
                }
            } else {
                Segment {
                    kind: layout.u32(b, 0)? as u32,
                    offset: layout.u32(b, 4)?,
                    vaddr: layout.u32(b, 8)?,
                    filesz: layout.u32(b, 16)?,
                    flags: layout.u32(b, 24)? as u32,
                }
            })
        })
        .collect::<Option<_>>()?;
    let has = |kind| segments.iter().any(|s| s.kind == kind);
    let (mut flags, mut flags_1, mut strtab, mut strsz) = (0, 0, None, None);
    if let Some(dynamic) = segments.iter().find(|s| s.kind == PT_DYNAMIC) {
        let bytes = read_at(file, dynamic.offset, dynamic.filesz.min(MAX_DYNAMIC))?;
        let entry = if layout.wide { 16 } else { 8 };
        for at in (0..bytes.len() / entry).map(|i| i * entry) {
            let tag = layout.word(&bytes, at)?;
            let value = layout.word(&bytes, at + entry / 2)?;
            match tag {
                DT_NULL => break,
                DT_FLAGS => flags = value,
                DT_FLAGS_1 => flags_1 = value,
                DT_STRTAB => strtab = Some(value),
                DT_STRSZ => strsz = Some(value),
                _ => {}
            }
        }
    }
    let pie = e_type == ET_DYN && (has(PT_INTERP) || flags_1 & DF_1_PIE != 0);
    // No PT_GNU_STACK means an executable stack on most architectures.
    let nx_stack = segments.iter().find(|s| s.kind == PT_GNU_STACK).is_some_and(|s| s.flags & PF_X == 0);
    let relro = if !has(PT_GNU_RELRO) {
        "none"
    } else if flags & DF_BIND_NOW != 0 || flags_1 & DF_1_NOW != 0 {
        "full"
    } else {
        "partial"
    };
    // The string table's address is a virtual one: find it in a loaded segment.
    let stack_protector = match (strtab, strsz) {
        (Some(address), Some(size)) => segments
            .iter()
            .filter(|s| s.kind == PT_LOAD)
            .find(|s| s.vaddr <= address && address < s.vaddr.saturating_add(s.filesz))
            .is_some_and(|s| {
                let offset = s.offset.saturating_add(address - s.vaddr);
                names_a_canary(file, offset, size.min(MAX_DYNSTR))
            }),
        _ => false,
    };
    Some(Hardening { pie, nx_stack, relro, stack_protector })
}

/// Whether the string table at `offset` holds `__stack_chk_fail` or
/// `__stack_chk_guard` as a whole string, read chunk by chunk.
fn names_a_canary(file: &File, offset: u64, size: u64) -> bool {
    const NEEDLES: [&[u8]; 2] = [b"\0__stack_chk_fail\0", b"\0__stack_chk_guard\0"];
    let overlap = NEEDLES.iter().map(|n| n.len()).max().unwrap_or(0) - 1;
    // The table starts with a NUL; a name at its very start still matches.
    let mut window: Vec<u8> = vec![0];
    let mut read = 0u64;
    while read < size {
        let len = (size - read).min(CHUNK as u64);
        let Some(chunk) = read_at(file, offset + read, len) else { return false };
        window.extend_from_slice(&chunk);
        if NEEDLES.iter().any(|n| window.windows(n.len()).any(|w| w == *n)) {
            return true;
        }
        let keep = window.len().saturating_sub(overlap);
        window.drain(..keep);
        read += len;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The previous reader (goblin over the whole file), for comparison.
    fn whole_file(bytes: &[u8]) -> Option<Hardening> {
        use goblin::elf::dynamic::{DF_1_NOW, DF_1_PIE, DF_BIND_NOW, DT_FLAGS, DT_FLAGS_1};
        use goblin::elf::program_header::{PF_X, PT_GNU_RELRO, PT_GNU_STACK, PT_INTERP};
        let elf = goblin::elf::Elf::parse(bytes).ok()?;
        let flags = |tag| {
            elf.dynamic
                .as_ref()
                .and_then(|d| d.dyns.iter().find(|x| x.d_tag == tag).map(|x| x.d_val))
                .unwrap_or(0)
        };
        let has_interp = elf.program_headers.iter().any(|p| p.p_type == PT_INTERP);
        let pie = elf.header.e_type == goblin::elf::header::ET_DYN
            && (has_interp || flags(DT_FLAGS_1) & DF_1_PIE != 0);
        let nx_stack = elf
            .program_headers
            .iter()
            .find(|p| p.p_type == PT_GNU_STACK)
            .is_some_and(|p| p.p_flags & PF_X == 0);
        let relro = if !elf.program_headers.iter().any(|p| p.p_type == PT_GNU_RELRO) {
            "none"
        } else if flags(DT_FLAGS) & DF_BIND_NOW != 0 || flags(DT_FLAGS_1) & DF_1_NOW != 0 {
            "full"
        } else {
            "partial"
        };
        let stack_protector = elf.dynsyms.iter().any(|s| {
            elf.dynstrtab
                .get_at(s.st_name)
                .is_some_and(|n| n == "__stack_chk_fail" || n == "__stack_chk_guard")
        });
        Some(Hardening { pie, nx_stack, relro, stack_protector })
    }

    /// The headers-only reader agrees with a full parse on the binaries at
    /// hand: this test's own executable, and the build machine's tools and
    /// libraries when they are there (any Linux has some).
    #[test]
    fn agrees_with_a_full_parse() {
        let mut paths = vec![std::env::current_exe().unwrap()];
        for dir in ["/usr/bin", "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib"] {
            let Ok(entries) = std::fs::read_dir(dir) else { continue };
            let mut found: Vec<_> =
                entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_file()).collect();
            found.sort();
            paths.extend(found.into_iter().take(150));
        }
        let mut compared = 0;
        for path in paths {
            let Ok(bytes) = std::fs::read(&path) else { continue };
            let Some(expected) = whole_file(&bytes) else { continue };
            let file = File::open(&path).unwrap();
            assert_eq!(hardening(&file), Some(expected), "{}", path.display());
            compared += 1;
        }
        assert!(compared >= 1, "no ELF file to compare");
    }

    #[test]
    fn truncated_and_hostile_headers_give_no_answer() {
        let dir = tempfile::tempdir().unwrap();
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        for (name, bytes) in [
            ("empty", Vec::new()),
            ("magic", b"\x7fELF".to_vec()),
            ("header", exe[..64].to_vec()),
            ("huge-count", {
                let mut b = exe[..64].to_vec();
                b[56] = 0xff;
                b[57] = 0xff;
                b
            }),
            ("huge-entries", {
                let mut b = exe.clone();
                b[54] = 0xff;
                b[55] = 0xff;
                b
            }),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, &bytes).unwrap();
            assert_eq!(hardening(&File::open(&path).unwrap()), None, "{name}");
        }
    }
}

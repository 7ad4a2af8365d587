//! The JSON text that Python's `json.dumps(..., indent=2)` writes, piece by piece:
//! string literals (`escape`), numbers (`number`) and indentation. A leaf: it uses
//! nothing of the crate but the allocation error, so writers and the string table
//! can both use it.

pub mod escape;
pub mod number;

/// Append a newline and `level` two-space indents.
#[inline]
pub fn newline_indent(out: &mut Vec<u8>, level: usize) {
    const SPACES: &[u8; 65] = b"\n                                                                ";
    let width = 1 + 2 * level;
    if width <= SPACES.len() {
        out.extend_from_slice(&SPACES[..width]);
    } else {
        out.push(b'\n');
        out.resize(out.len() + 2 * level, b' ');
    }
}

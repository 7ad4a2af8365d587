//! Where exports go: a Python `str` written in place (`text`), or a file
//! (`file`): a path, optionally gzip-compressed and replaced atomically (`path`),
//! or a Python file object (`file_object`). Writers stream fixed-size chunks here,
//! so an export to a file needs memory independent of the trace length.

mod file;
mod file_object;
mod path;
mod text;

pub(crate) use file::{FileOutput, CHUNK};
pub(crate) use text::{self_test_in_place_str, StrOutput};

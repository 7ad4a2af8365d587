//! Metadata to JSON, exactly as `json.dumps(..., indent=2)` writes it, straight
//! from the Python objects into the output buffer (or, by the same walk, to
//! Perfetto debug annotations): the walk (`walk`), how it is spelled (`emit`),
//! and the export's payload writers built on it (`writers`).

mod emit;
mod walk;
mod writers;

pub(crate) use walk::JsonPayloadWriter;
pub(crate) use writers::ChromePayloadWriter;

//! Builders of debug annotation values, for the bindings' metadata walk: each
//! writes one value into the `DebugAnnotation` being written.

use super::proto::{field, NESTED_ARRAY, NESTED_DICT};
use super::wire::Writer;

pub fn string(writer: &mut Writer, text: &[u8]) {
    writer.text(field::STRING_VALUE, text);
}
pub fn boolean(writer: &mut Writer, value: bool) {
    writer.boolean(field::BOOL_VALUE, value);
}
pub fn int(writer: &mut Writer, value: i64) {
    writer.int(field::INT_VALUE, value);
}
pub fn uint(writer: &mut Writer, value: u64) {
    writer.uint(field::UINT_VALUE, value);
}
pub fn double(writer: &mut Writer, value: f64) {
    writer.double(field::DOUBLE_VALUE, value);
}
/// `None`: a `nested_value` with no type and no value (readers add no
/// argument for it; a JSON `null` would stop some trace processors).
pub fn null(writer: &mut Writer) {
    writer.begin(field::NESTED_VALUE);
    writer.end();
}
/// An empty dict or list (which `dict_entries` and `array_values` cannot
/// tell apart from "no value"): a `nested_value` of that type with no items.
pub fn empty(writer: &mut Writer, dict: bool) {
    writer.begin(field::NESTED_VALUE);
    writer.uint(
        field::NESTED_TYPE,
        if dict { NESTED_DICT } else { NESTED_ARRAY },
    );
    writer.end();
}
/// An integer beyond 64 bits, as its decimal JSON text.
pub fn big_int(writer: &mut Writer, decimal: &[u8]) {
    writer.text(field::LEGACY_JSON_VALUE, decimal);
}
/// Open a dict entry named `key`; write its value, then [`end`].
pub fn begin_entry(writer: &mut Writer, key: &[u8]) {
    writer.begin(field::DICT_ENTRIES);
    writer.text(field::ANNOTATION_NAME, key);
}
/// Open a list item; write its value, then [`end`].
pub fn begin_item(writer: &mut Writer) {
    writer.begin(field::ARRAY_VALUES);
}
pub fn end(writer: &mut Writer) {
    writer.end();
}

//! `_node_stats` and `_mann_whitney`: the bindings over `crate::compare` that
//! `dagron.compare` uses. Duration columns arrive as the native-endian bytes of the
//! comparison's `array('d')` columns and the answer leaves the same way (a dict of
//! bytes: float64 columns, `ended` as uint32, `verdict` as one byte a node), so no
//! Python float is made per value; the pass runs without the GIL.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::compare::{self, Samples, SideStats};

/// Per-node statistics of two sides (see `crate::compare`): a dict of bytes, one item
/// per node; `verdict` codes: 0 absent, 1 too few runs, 2 noise, 3 changed.
#[pyfunction]
#[pyo3(signature = (base_columns, base_extra, cand_columns, cand_extra, count, alpha))]
pub fn _node_stats<'py>(
    py: Python<'py>,
    base_columns: Vec<Bound<'py, PyBytes>>,
    base_extra: Vec<(usize, f64)>,
    cand_columns: Vec<Bound<'py, PyBytes>>,
    cand_extra: Vec<(usize, f64)>,
    count: usize,
    alpha: f64,
) -> PyResult<Bound<'py, PyDict>> {
    if !(alpha > 0.0 && alpha < 1.0) {
        return Err(PyValueError::new_err(format!(
            "alpha must be between 0 and 1, not {alpha}"
        )));
    }
    let base_columns = floats(&base_columns)?;
    let cand_columns = floats(&cand_columns)?;
    let stats = py.detach(|| {
        compare::node_stats(
            &Samples {
                columns: &base_columns,
                extra: &base_extra,
            },
            &Samples {
                columns: &cand_columns,
                extra: &cand_extra,
            },
            count,
            alpha,
        )
    });
    let out = PyDict::new(py);
    side(&out, "baseline", &stats.baseline)?;
    side(&out, "candidate", &stats.candidate)?;
    out.set_item("change", float_bytes(py, &stats.change))?;
    out.set_item("relative", float_bytes(py, &stats.relative))?;
    out.set_item("u", float_bytes(py, &stats.u))?;
    out.set_item("p", float_bytes(py, &stats.p))?;
    let codes: Vec<u8> = stats.verdict.iter().map(|&v| v as u8).collect();
    out.set_item("verdict", PyBytes::new(py, &codes))?;
    Ok(out)
}

/// Each column's bytes as float64s; a length that is not a multiple of 8 is an error.
fn floats(columns: &[Bound<'_, PyBytes>]) -> PyResult<Vec<Vec<f64>>> {
    columns
        .iter()
        .map(|column| {
            let bytes = column.as_bytes();
            if bytes.len() % 8 != 0 {
                return Err(PyValueError::new_err(format!(
                    "_node_stats: a column of {} bytes is not float64 values",
                    bytes.len()
                )));
            }
            Ok(bytes
                .chunks_exact(8)
                .map(|chunk| f64::from_ne_bytes(chunk.try_into().expect("8 bytes")))
                .collect())
        })
        .collect()
}

fn float_bytes<'py>(py: Python<'py>, values: &[f64]) -> Bound<'py, PyBytes> {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_ne_bytes()).collect();
    PyBytes::new(py, &bytes)
}

fn side(out: &Bound<'_, PyDict>, name: &str, stats: &SideStats) -> PyResult<()> {
    let py = out.py();
    let ended: Vec<u8> = stats.ended.iter().flat_map(|v| v.to_ne_bytes()).collect();
    out.set_item(format!("{name}_ended"), PyBytes::new(py, &ended))?;
    out.set_item(format!("{name}_median"), float_bytes(py, &stats.median))?;
    out.set_item(format!("{name}_p25"), float_bytes(py, &stats.p25))?;
    out.set_item(format!("{name}_p75"), float_bytes(py, &stats.p75))?;
    out.set_item(format!("{name}_min"), float_bytes(py, &stats.min))?;
    out.set_item(format!("{name}_max"), float_bytes(py, &stats.max))?;
    Ok(())
}

/// `(U, p)` of the two-sided Mann-Whitney U test of samples `a` and `b`; p is None
/// when either is empty.
#[pyfunction]
pub fn _mann_whitney(a: Vec<f64>, b: Vec<f64>) -> (f64, Option<f64>) {
    let (u, p) = compare::mann_whitney(&a, &b);
    (u, if p.is_nan() { None } else { Some(p) })
}

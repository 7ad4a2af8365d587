//! `_node_stats` and `_mann_whitney`: the bindings over `crate::compare` that
//! `dagron.compare` uses. Duration columns arrive as sequences of floats (the
//! comparison's `array('d')` columns), the answer leaves as a dict of lists; the pass
//! runs without the GIL.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::compare::{self, Samples, SideStats};

/// Per-node statistics of two sides (see `crate::compare`): a dict of lists, one item
/// per node; `verdict` codes: 0 absent, 1 too few runs, 2 noise, 3 changed.
#[pyfunction]
#[pyo3(signature = (base_columns, base_extra, cand_columns, cand_extra, count, alpha))]
pub fn _node_stats<'py>(
    py: Python<'py>,
    base_columns: Vec<Vec<f64>>,
    base_extra: Vec<(usize, f64)>,
    cand_columns: Vec<Vec<f64>>,
    cand_extra: Vec<(usize, f64)>,
    count: usize,
    alpha: f64,
) -> PyResult<Bound<'py, PyDict>> {
    if !(alpha > 0.0 && alpha < 1.0) {
        return Err(PyValueError::new_err(format!(
            "alpha must be between 0 and 1, not {alpha}"
        )));
    }
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
    side(&out, "baseline", stats.baseline)?;
    side(&out, "candidate", stats.candidate)?;
    out.set_item("change", stats.change)?;
    out.set_item("relative", stats.relative)?;
    out.set_item("u", stats.u)?;
    out.set_item("p", stats.p)?;
    let codes: Vec<u8> = stats.verdict.into_iter().map(|v| v as u8).collect();
    out.set_item("verdict", codes)?;
    Ok(out)
}

fn side(out: &Bound<'_, PyDict>, name: &str, stats: SideStats) -> PyResult<()> {
    out.set_item(format!("{name}_ended"), stats.ended)?;
    out.set_item(format!("{name}_median"), stats.median)?;
    out.set_item(format!("{name}_p25"), stats.p25)?;
    out.set_item(format!("{name}_p75"), stats.p75)?;
    out.set_item(format!("{name}_min"), stats.min)?;
    out.set_item(format!("{name}_max"), stats.max)?;
    Ok(())
}

/// `(U, p)` of the two-sided Mann-Whitney U test of samples `a` and `b`; p is None
/// when either is empty.
#[pyfunction]
pub fn _mann_whitney(a: Vec<f64>, b: Vec<f64>) -> (f64, Option<f64>) {
    let (u, p) = compare::mann_whitney(&a, &b);
    (u, if p.is_nan() { None } else { Some(p) })
}

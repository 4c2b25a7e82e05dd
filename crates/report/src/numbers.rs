//! How numbers are written, in the charts and in the tables alike (one function each, so the
//! two cannot differ).

/// Shown where there is no value (a rate over no applicable domain).
pub const NONE: &str = "–";

/// A proportion as a percentage with one decimal, without the sign (`0.4531` -> `45.3`).
pub fn pct(x: f64) -> String {
    format!("{:.1}", x * 100.0)
}

/// An optional proportion as [`pct`], or [`NONE`].
pub fn pct_or_none(x: Option<f64>) -> String {
    x.map(pct).unwrap_or_else(|| NONE.to_string())
}

/// An optional count, or [`NONE`].
pub fn count_or_none(x: Option<u64>) -> String {
    x.map(|v| v.to_string()).unwrap_or_else(|| NONE.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_decimal_percentages() {
        assert_eq!(pct(0.0), "0.0");
        assert_eq!(pct(1.0), "100.0");
        assert_eq!(pct(0.45312), "45.3");
        assert_eq!(pct(2.0 / 3.0), "66.7");
        assert_eq!(pct_or_none(None), "–");
        assert_eq!(count_or_none(Some(30)), "30");
    }
}

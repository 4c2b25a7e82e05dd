//! Interval estimates and tests for proportions.

/// z for a two-sided 95% interval.
pub const Z95: f64 = 1.959964;

/// Wilson score interval for `adopted` of `n` at the given z; `None` when `n` is 0.
///
/// The bounds are exact at the edges: 0 adopted gives a lower bound of exactly 0, `n` adopted
/// an upper bound of exactly 1 (the formula would give them up to rounding).
pub fn wilson(adopted: u64, n: u64, z: f64) -> Option<(f64, f64)> {
    if n == 0 {
        return None;
    }
    let nf = n as f64;
    let p = adopted as f64 / nf;
    let z2 = z * z;
    let denom = 1.0 + z2 / nf;
    let centre = (p + z2 / (2.0 * nf)) / denom;
    let half = z / denom * (p * (1.0 - p) / nf + z2 / (4.0 * nf * nf)).sqrt();
    let low = if adopted == 0 {
        0.0
    } else {
        (centre - half).max(0.0)
    };
    let high = if adopted == n {
        1.0
    } else {
        (centre + half).min(1.0)
    };
    Some((low, high))
}

/// Result of a two-proportion z-test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Change {
    /// `p2 - p1`.
    pub diff: f64,
    /// z statistic with the pooled standard error.
    pub z: f64,
    /// Two-sided p-value.
    pub p_value: f64,
}

/// Pooled two-proportion z-test of `x1/n1` against `x2/n2`; `None` when a sample is empty or
/// the pooled proportion is 0 or 1 (no variance: the rates are equal, nothing to test).
pub fn two_proportion(x1: u64, n1: u64, x2: u64, n2: u64) -> Option<Change> {
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let (p1, p2) = (x1 as f64 / n1f, x2 as f64 / n2f);
    let pooled = (x1 + x2) as f64 / (n1f + n2f);
    if pooled <= 0.0 || pooled >= 1.0 {
        return None;
    }
    let se = (pooled * (1.0 - pooled) * (1.0 / n1f + 1.0 / n2f)).sqrt();
    let z = (p2 - p1) / se;
    Some(Change {
        diff: p2 - p1,
        z,
        p_value: libm::erfc(z.abs() / std::f64::consts::SQRT_2),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-9, "{a} != {b}");
    }

    /// Reference values from the Wilson formula written out in Python (`math.sqrt`, z =
    /// 1.959964), the same as statsmodels `proportion_confint(x, n, method="wilson")` to the
    /// digits shown in its documentation examples.
    #[test]
    fn wilson_reference_values() {
        let cases = [
            (0, 10, 0.0, 0.27753280),
            (10, 10, 0.72246720, 1.0),
            (5, 10, 0.23659309, 0.76340691),
            (1, 1, 0.20654931, 1.0),
            (0, 1, 0.0, 0.79345069),
            (81, 263, 0.25528852, 0.36620958),
            (999_999, 1_000_000, 0.99999434, 0.99999982),
        ];
        for (x, n, lo, hi) in cases {
            let (l, h) = wilson(x, n, Z95).unwrap();
            assert!((l - lo).abs() < 5e-8, "{x}/{n}: low {l} vs {lo}");
            assert!((h - hi).abs() < 5e-8, "{x}/{n}: high {h} vs {hi}");
        }
        assert_eq!(wilson(0, 0, Z95), None);
        assert_eq!(wilson(0, 7, Z95).unwrap().0, 0.0);
        assert_eq!(wilson(7, 7, Z95).unwrap().1, 1.0);
    }

    /// Reference: pooled z-test written out in Python, p = math.erfc(|z| / sqrt(2)) (the same
    /// as statsmodels `proportions_ztest` and scipy's two-sided normal tail).
    #[test]
    fn two_proportion_reference_values() {
        let c = two_proportion(45, 100, 56, 100).unwrap();
        close(c.diff, 0.11);
        close(c.z, 1.5557127061904528);
        close(c.p_value, 0.11977642377972289);
        let c = two_proportion(500, 1000, 450, 1000).unwrap();
        close(c.diff, -0.05);
        close(c.z, -2.2388683141982244);
        close(c.p_value, 0.025164485700318574);
        let c = two_proportion(30, 30, 0, 30).unwrap();
        close(c.z, -7.745966692414835);
        assert!((c.p_value - 9.485737571073843e-15).abs() < 1e-21);
        assert_eq!(two_proportion(0, 10, 0, 20), None);
        assert_eq!(two_proportion(10, 10, 20, 20), None);
        assert_eq!(two_proportion(1, 0, 2, 3), None);
    }
}

//! Special functions needed for the analytic moments (std has no stable `erf` or
//! `gamma` yet).

use std::f64::consts::{PI, SQRT_2};

/// `erf(x)` for `x >= 0` (negative inputs are treated as 0), accurate to about
/// 1e-15.
///
/// Uses the all-positive series `erf(x) = 2/sqrt(pi) * exp(-x^2) *
/// sum_n 2^n x^(2n+1) / (1*3*...*(2n+1))`, which has no cancellation; beyond
/// `x = 6`, `1 - erf(x) < 3e-17` so the result is 1.
pub(crate) fn erf(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return 0.0;
    }
    if x >= 6.0 {
        return 1.0;
    }
    let x2 = x * x;
    let mut term = x;
    let mut sum = x;
    let mut n = 0.0;
    while n < 1000.0 {
        term *= 2.0 * x2 / (2.0 * n + 3.0);
        sum += term;
        if term <= sum * 1e-17 {
            break;
        }
        n += 1.0;
    }
    (2.0 / PI.sqrt() * (-x2).exp() * sum).min(1.0)
}

/// Standard normal density.
pub(crate) fn normal_pdf(z: f64) -> f64 {
    (-0.5 * z * z).exp() / (2.0 * PI).sqrt()
}

/// Standard normal CDF for `z >= 0` (negative inputs are treated as 0).
pub(crate) fn normal_cdf_nonneg(z: f64) -> f64 {
    0.5 * (1.0 + erf(z / SQRT_2))
}

/// Lanczos coefficients (g = 7, n = 9).
const LANCZOS: [f64; 9] = [
    0.999_999_999_999_809_9,
    676.520_368_121_885_1,
    -1_259.139_216_722_402_8,
    771.323_428_777_653_1,
    -176.615_029_162_140_6,
    12.507_343_278_686_905,
    -0.138_571_095_265_720_12,
    9.984_369_578_019_572e-6,
    1.505_632_735_149_311_6e-7,
];

/// `ln(Gamma(x))` for `x >= 0.5` via the Lanczos approximation (relative error
/// around 1e-15). Returns NaN below 0.5, where it is not needed.
pub(crate) fn ln_gamma(x: f64) -> f64 {
    if x.is_nan() || x < 0.5 {
        return f64::NAN;
    }
    if x.is_infinite() {
        return f64::INFINITY;
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let mut a = LANCZOS[0];
    let mut i = 1.0;
    for c in &LANCZOS[1..] {
        a += c / (x + i);
        i += 1.0;
    }
    0.5 * (2.0 * PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(1e-300)
    }

    #[test]
    fn erf_known_values() {
        assert!(close(erf(0.5), 0.520_499_877_813_046_5, 1e-14));
        assert!(close(erf(1.0), 0.842_700_792_949_714_9, 1e-14));
        assert!(close(erf(2.0), 0.995_322_265_018_952_7, 1e-14));
        assert!(close(erf(3.5), 0.999_999_256_901_627_7, 1e-14));
        assert_eq!(erf(0.0), 0.0);
        assert_eq!(erf(7.0), 1.0);
        assert!(close(
            normal_cdf_nonneg(1.0),
            0.841_344_746_068_542_9,
            1e-14
        ));
    }

    #[test]
    fn ln_gamma_known_values() {
        assert!(ln_gamma(1.0).abs() < 1e-14);
        assert!(ln_gamma(2.0).abs() < 1e-14);
        assert!(close(ln_gamma(5.0), 24.0_f64.ln(), 1e-14));
        assert!(close(ln_gamma(0.5), PI.sqrt().ln(), 1e-13));
        assert!(close(ln_gamma(1.5), (PI.sqrt() / 2.0).ln(), 1e-13));
        assert!(close(ln_gamma(101.0), 363.739_375_555_563_5, 1e-14));
    }
}

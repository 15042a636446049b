use std::io::Write as _;
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::*;

fn dist(d: Distribution) -> LatencySource {
    LatencySource::Distribution(d)
}

fn uniform() -> Distribution {
    Distribution::Uniform {
        low: 0.1,
        high: 0.2,
    }
}

/// One representative of every distribution (and a few extra shapes).
fn all_distributions() -> Vec<Distribution> {
    vec![
        Distribution::Constant { value: 0.25 },
        uniform(),
        Distribution::Normal {
            mean: 0.15,
            std_dev: 0.05,
        },
        // Heavily truncated: exercises the truncated-normal formulas.
        Distribution::Normal {
            mean: 0.01,
            std_dev: 0.05,
        },
        Distribution::Normal {
            mean: 0.0,
            std_dev: 1.0,
        },
        Distribution::LogNormal {
            mu: -2.0,
            sigma: 0.5,
        },
        Distribution::Exponential { mean: 0.1 },
        Distribution::Gamma {
            shape: 2.0,
            scale: 0.05,
        },
        Distribution::Gamma {
            shape: 0.5,
            scale: 0.1,
        },
        Distribution::Weibull {
            scale: 0.1,
            shape: 1.5,
        },
        Distribution::Weibull {
            scale: 0.1,
            shape: 0.8,
        },
        Distribution::Pareto {
            scale: 0.05,
            shape: 6.0,
        },
        Distribution::mixture(vec![
            (9.0, uniform()),
            (1.0, Distribution::Exponential { mean: 1.0 }),
        ])
        .unwrap(),
    ]
}

#[test]
fn uniform_draws_are_pinned() {
    let latencies = workload(&dist(uniform()), 1, 4).unwrap();
    let bits: Vec<u64> = latencies.iter().map(|x| x.to_bits()).collect();
    assert_eq!(bits, PINNED_UNIFORM_SEED_1, "{latencies:?}");
}

/// `uniform(0.1, 0.2)`, seed 1, requests 0..4.
const PINNED_UNIFORM_SEED_1: [u64; 4] = [
    4_594_221_007_420_354_202, // 0.1402485663664848
    4_595_840_237_024_536_034, // 0.18519121608441852
    4_595_928_442_587_267_718, // 0.18763941225053687
    4_594_818_142_524_735_508, // 0.1568223949088866
];

#[test]
fn uniform_matches_python_formula() {
    let mut rng = request_rng(7, 3);
    let u = (rand::Rng::next_u64(&mut rng) >> 11) as f64 / 9_007_199_254_740_992.0;
    let expected = 0.1 + (0.2 - 0.1) * u;
    let got = workload(&dist(uniform()), 7, 4).unwrap()[3];
    assert_eq!(got.to_bits(), expected.to_bits());
}

#[test]
fn clone_and_set_stream_equals_fresh_generator() {
    let base = ChaCha8Rng::seed_from_u64(42);
    for stream in [0, 1, 2, 1000, u64::MAX] {
        let mut a = base.clone();
        a.set_stream(stream);
        let mut b = ChaCha8Rng::seed_from_u64(42);
        b.set_stream(stream);
        for _ in 0..100 {
            assert_eq!(rand::Rng::next_u64(&mut a), rand::Rng::next_u64(&mut b));
        }
    }
}

#[test]
fn requests_are_independent() {
    for d in all_distributions() {
        let source = dist(d.clone());
        let short = workload(&source, 9, 10).unwrap();
        let long = workload(&source, 9, 1000).unwrap();
        assert_eq!(short[..], long[..10], "{}", d.describe());
        // The batched generator agrees with the reference stream definition
        // (`request_rng`) for every request, including those whose sampler
        // needs more than one ChaCha block (rejections, gamma loops).
        for (i, value) in long.iter().enumerate() {
            let mut rng = request_rng(9, i as u64);
            assert_eq!(d.sample(&mut rng).to_bits(), value.to_bits());
        }
        let other_seed = workload(&source, 10, 10).unwrap();
        if !matches!(d, Distribution::Constant { .. }) {
            assert_ne!(short, other_seed, "{}", d.describe());
        }
    }
}

/// `n` draws from one stream (one generator for all draws is much faster in
/// debug builds than one stream per request; the sampler is the same).
fn draws(d: &Distribution, n: usize) -> Vec<f64> {
    let sampler = distribution::Sampler::new(d).unwrap();
    let mut rng = request_rng(1, 0);
    (0..n).map(|_| sampler.sample(&mut rng)).collect()
}

#[test]
fn sample_moments_match_analytic_moments() {
    const N: u64 = 200_000;
    for d in all_distributions() {
        let draws = draws(&d, N as usize);
        let n = N as f64;
        let mean = draws.iter().sum::<f64>() / n;
        let var = draws.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
        let (m, s) = (d.mean(), d.std_dev());
        assert!(m.is_finite() && s.is_finite(), "{}", d.describe());
        let mean_tolerance = 5.0 * s / n.sqrt() + 1e-12;
        assert!(
            (mean - m).abs() <= mean_tolerance,
            "{}: sample mean {mean}, analytic {m}",
            d.describe()
        );
        let sd = var.sqrt();
        assert!(
            (sd - s).abs() <= 0.03 * s + 1e-12,
            "{}: sample std {sd}, analytic {s}",
            d.describe()
        );
        assert!(draws.iter().all(|x| x.is_finite() && *x >= 0.0));
    }
}

#[test]
fn analytic_moments_known_values() {
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs().max(1.0);
    assert!(close(uniform().mean(), 0.15));
    assert!(close(uniform().std_dev(), 0.1 / 12f64.sqrt()));
    // Half-normal: mean sqrt(2/pi), variance 1 - 2/pi.
    let half = Distribution::Normal {
        mean: 0.0,
        std_dev: 1.0,
    };
    assert!(close(half.mean(), (2.0 / std::f64::consts::PI).sqrt()));
    assert!(close(
        half.std_dev(),
        (1.0 - 2.0 / std::f64::consts::PI).sqrt()
    ));
    // Weibull with shape 1 is exponential.
    let w = Distribution::Weibull {
        scale: 0.3,
        shape: 1.0,
    };
    assert!(close(w.mean(), 0.3));
    assert!(close(w.std_dev(), 0.3));
    let p = |shape| Distribution::Pareto { scale: 1.0, shape };
    assert_eq!(p(1.0).mean(), f64::INFINITY);
    assert_eq!(p(2.0).std_dev(), f64::INFINITY);
    assert!(close(p(2.0).mean(), 2.0));
    assert!(close(p(3.0).std_dev(), 0.75f64.sqrt()));
    let mix = Distribution::mixture(vec![(1.0, p(1.5)), (1.0, uniform())]).unwrap();
    assert_eq!(mix.std_dev(), f64::INFINITY);
    assert!(close(mix.mean(), 0.5 * 3.0 + 0.5 * 0.15));
    let tiny_shape = Distribution::Weibull {
        scale: 1.0,
        shape: 0.001,
    };
    assert_eq!(tiny_shape.mean(), f64::INFINITY);
}

#[test]
fn mixture_weights_are_normalised_and_respected() {
    let d = Distribution::mixture(vec![
        (3.0, Distribution::Constant { value: 0.0 }),
        (1.0, Distribution::Constant { value: 1.0 }),
    ])
    .unwrap();
    let Distribution::Mixture(components) = &d else {
        panic!("not a mixture");
    };
    assert_eq!(components[0].0, 0.75);
    assert_eq!(components[1].0, 0.25);
    let draws = draws(&d, 200_000);
    let ones = draws.iter().filter(|x| **x == 1.0).count() as f64 / 200_000.0;
    assert!((ones - 0.25).abs() < 0.005, "{ones}");
    assert_eq!(d.mean(), 0.25);
    assert_eq!(
        d.describe(),
        "mixture(0.75 * constant(0.0), 0.25 * constant(1.0))"
    );
}

#[test]
fn invalid_distributions_are_errors() {
    let bad = [
        Distribution::Constant { value: -1.0 },
        Distribution::Constant { value: f64::NAN },
        Distribution::Uniform {
            low: 0.2,
            high: 0.1,
        },
        Distribution::Uniform {
            low: 0.0,
            high: f64::INFINITY,
        },
        Distribution::Normal {
            mean: -0.1,
            std_dev: 1.0,
        },
        Distribution::LogNormal {
            mu: f64::NAN,
            sigma: 1.0,
        },
        Distribution::Exponential { mean: 0.0 },
        Distribution::Gamma {
            shape: 0.0,
            scale: 1.0,
        },
        Distribution::Weibull {
            scale: 1.0,
            shape: -1.0,
        },
        Distribution::Pareto {
            scale: f64::INFINITY,
            shape: 1.0,
        },
        Distribution::Mixture(Vec::new()),
        Distribution::Mixture(vec![(0.5, uniform())]),
        Distribution::Mixture(vec![(1.0, Distribution::Mixture(Vec::new()))]),
    ];
    for d in bad {
        assert!(d.validate().is_err(), "{d:?}");
        assert!(workload(&dist(d.clone()), 1, 1).is_err(), "{d:?}");
        assert!(d.sample(&mut request_rng(1, 0)).is_nan());
        assert!(d.mean().is_nan());
    }
    let err = Distribution::Uniform {
        low: 0.2,
        high: 0.1,
    }
    .validate()
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "uniform: high must be >= low (0.2), found 0.1"
    );
    assert!(Distribution::mixture(vec![(-1.0, uniform())]).is_err());
    assert!(Distribution::mixture(Vec::new()).is_err());
    let mut deep = uniform();
    for _ in 0..=MAX_MIXTURE_DEPTH {
        deep = Distribution::Mixture(vec![(1.0, deep)]);
    }
    assert!(matches!(
        deep.validate(),
        Err(LatencyError::MixtureTooDeep { .. })
    ));
}

#[test]
fn zero_latency_is_valid() {
    let zero = dist(Distribution::Constant { value: 0.0 });
    assert_eq!(workload(&zero, 1, 3).unwrap(), vec![0.0; 3]);
    let zero_width = dist(Distribution::Uniform {
        low: 0.0,
        high: 0.0,
    });
    assert_eq!(workload(&zero_width, 1, 3).unwrap(), vec![0.0; 3]);
}

#[test]
fn overflowing_draws_are_errors() {
    let d = Distribution::LogNormal {
        mu: 700.0,
        sigma: 10.0,
    };
    let err = workload(&dist(d), 1, 1000).unwrap_err();
    assert!(matches!(err, LatencyError::BadSample { .. }), "{err}");
}

#[test]
fn zero_requests() {
    assert!(workload(&dist(uniform()), 1, 0).unwrap().is_empty());
}

#[test]
fn describe_is_one_line() {
    assert_eq!(uniform().describe(), "uniform(0.1, 0.2)");
    assert_eq!(
        Distribution::Exponential { mean: 0.5 }.describe(),
        "exponential(0.5)"
    );
    assert_eq!(
        Distribution::Weibull {
            scale: 1e-7,
            shape: 2.0
        }
        .describe(),
        "weibull(1e-7, 2.0)"
    );
}

#[test]
fn serializes_parameters_and_description() {
    let json = serde_json::to_value(dist(uniform())).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "distribution": "uniform", "low": 0.1, "high": 0.2,
            "description": "uniform(0.1, 0.2)"
        })
    );
    let mix = Distribution::mixture(vec![(1.0, uniform()), (1.0, uniform())]).unwrap();
    let json = serde_json::to_value(&mix).unwrap();
    assert_eq!(json["components"][1]["weight"], 0.5);
    assert_eq!(json["components"][1]["low"], 0.1);
}

// ---------------------------------------------------------------- traces

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Writes `bytes` as `t.txt` and gzip-compressed as `t.txt.gz`, loads
/// each (which must fail) and hands `check` the path, whether it was the
/// compressed one, and the error.
fn load_plain_and_gzipped(
    dir: &Path,
    bytes: &[u8],
    mut check: impl FnMut(&Path, bool, LatencyError),
) {
    for (file, bytes, gzipped) in [
        ("t.txt", bytes.to_vec(), false),
        ("t.txt.gz", gzip(bytes), true),
    ] {
        let path = write(dir, file, &bytes);
        let err = Trace::load(&path).unwrap_err();
        check(&path, gzipped, err);
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn trace_loads_plain_text() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "t.txt",
        b"# recorded 2024-01-01\n0.1\n  0.25 \r\n\t# indented comment\n0\n1e-3\n3",
    );
    let trace = Trace::load(&path).unwrap();
    assert_eq!(trace.values(), &[0.1, 0.25, 0.0, 0.001, 3.0]);
    assert!(!trace.wrap());
    assert_eq!(trace.path(), path);
    assert_eq!(trace.len(), 5);
}

/// Found by a hostile-input pass: blank lines at the end of a file and a
/// byte-order mark were refused.
#[test]
fn trailing_blank_lines_and_a_byte_order_mark_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "t.txt",
        "\u{feff}0.1\r\n0.2\r\n\r\n  \n\n".as_bytes(),
    );
    assert_eq!(Trace::load(&path).unwrap().values(), &[0.1, 0.2]);
    // A blank line before a value is still one missing.
    let path = write(dir.path(), "u.txt", b"0.1\n\n\n0.2\n\n");
    let e = Trace::load(&path).unwrap_err().to_string();
    assert!(e.contains(":2:") || e.contains("line 2"), "{e}");
    assert!(e.contains("empty line"), "{e}");
}

#[test]
fn trace_loads_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let text = (0..10_000)
        .map(|i| format!("{}\n", i as f64 / 1000.0))
        .collect::<String>();
    let path = write(dir.path(), "t.txt.gz", &gzip(text.as_bytes()));
    let trace = Trace::load(&path).unwrap();
    assert_eq!(trace.len(), 10_000);
    assert_eq!(trace.values()[1234], 1.234);
    // Concatenated members, and no `.gz` extension needed.
    let mut two = gzip(b"0.5\n");
    two.extend(gzip(b"0.75\n"));
    let path = write(dir.path(), "two", &two);
    assert_eq!(Trace::load(&path).unwrap().values(), &[0.5, 0.75]);
}

#[test]
fn truncated_gzip_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let text = (0..10_000)
        .map(|i| format!("{}\n", i as f64 / 1000.0))
        .collect::<String>();
    let full = gzip(text.as_bytes());
    let path = write(dir.path(), "cut.gz", &full[..full.len() / 2]);
    let err = Trace::load(&path).unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, LatencyError::TraceRead { line, .. } if line > 1),
        "{message}"
    );
    assert!(message.contains("cut.gz:"), "{message}");
    assert!(message.contains("gzip stream is truncated"), "{message}");
    // Only the magic bytes.
    let path = write(dir.path(), "magic.gz", &[0x1f, 0x8b]);
    let err = Trace::load(&path).unwrap_err();
    assert!(
        matches!(err, LatencyError::TraceRead { line: 1, .. }),
        "{err}"
    );
}

/// Bytes appended to a good gzip trace were reported as "the gzip stream
/// is truncated" (a few bytes) or "corrupt" (more): they are trailing data,
/// named as such with where the stream ends and how many bytes follow.
#[test]
fn bytes_after_a_gzip_trace_are_trailing_data_not_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let good = gzip(b"0.1\n0.2\n");
    for tail in [&b"ab"[..], b"\r\n", b"appended log line\n", &[0; 100]] {
        let mut bytes = good.clone();
        bytes.extend_from_slice(tail);
        let path = write(dir.path(), "t.txt.gz", &bytes);
        let err = Trace::load(&path).unwrap_err();
        assert!(
            matches!(err, LatencyError::TraceTrailing { offset, len, .. }
                if offset == good.len() as u64 && len == tail.len() as u64),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(
            message.contains("t.txt.gz: the gzip stream ends at byte"),
            "{message}"
        );
        assert!(
            message.contains(&format!(
                "but {} bytes after it are not gzip data",
                tail.len()
            )),
            "{message}"
        );
        assert!(message.contains("not a truncated stream"), "{message}");
        let err = Trace::from_bytes("t.txt.gz", &bytes).unwrap_err();
        assert!(matches!(err, LatencyError::TraceTrailing { .. }), "{err:?}");
    }
}

/// A UTF-16 or UTF-32 trace was reported as "binary data (a NUL byte)":
/// its byte-order mark names the encoding, plain or gzip-compressed. A
/// UTF-8 mark is skipped.
#[test]
fn a_utf16_or_utf32_trace_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let utf16le = |text: &str| -> Vec<u8> {
        let mut bytes = vec![0xff, 0xfe];
        bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        bytes
    };
    let utf16be = |text: &str| -> Vec<u8> {
        let mut bytes = vec![0xfe, 0xff];
        bytes.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
        bytes
    };
    let utf32 = |text: &str, le: bool| -> Vec<u8> {
        let mut bytes = if le {
            vec![0xff, 0xfe, 0, 0]
        } else {
            vec![0, 0, 0xfe, 0xff]
        };
        for c in text.chars() {
            let c = c as u32;
            bytes.extend(if le { c.to_le_bytes() } else { c.to_be_bytes() });
        }
        bytes
    };
    let text = "0.1\n0.2\n";
    let cases = [
        (utf16le(text), "UTF-16LE"),
        (utf16be(text), "UTF-16BE"),
        (utf32(text, true), "UTF-32LE"),
        (utf32(text, false), "UTF-32BE"),
        // A long first line is still named by its mark.
        (
            utf16le(&format!("# {}\n0.1\n", "x".repeat(2000))),
            "UTF-16LE",
        ),
    ];
    for (bytes, name) in cases {
        load_plain_and_gzipped(dir.path(), &bytes, |path, gzipped, err| {
            assert!(
                matches!(err, LatencyError::TraceEncoding { encoding, gzip, .. }
                    if encoding == name && gzip == gzipped),
                "{name} {}: {err:?}",
                path.display()
            );
            assert_eq!(
                err.to_string(),
                format!(
                    "{}: the file is {name} text (it starts with a {name} byte-order mark); \
                     a trace must be UTF-8",
                    path.display()
                )
            );
        });
    }
    let path = write(dir.path(), "bom.gz", &gzip("\u{feff}0.1\n0.2\n".as_bytes()));
    assert_eq!(Trace::load(&path).unwrap().values(), &[0.1, 0.2]);
}

/// A UTF-16 trace without a byte-order mark (as some tools write it) was
/// reported as "binary data (a NUL byte)": a first line of mostly ASCII
/// characters each beside a NUL is named UTF-16LE or UTF-16BE by where the
/// NUL is, plain or gzip-compressed. Other NUL bytes are still binary data.
#[test]
fn a_utf16_trace_without_a_byte_order_mark_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let le = |text: &str| -> Vec<u8> { text.encode_utf16().flat_map(u16::to_le_bytes).collect() };
    let be = |text: &str| -> Vec<u8> { text.encode_utf16().flat_map(u16::to_be_bytes).collect() };
    let cases = [
        (le("0.1\n0.2\n"), "UTF-16LE"),
        (be("0.1\n0.2\n"), "UTF-16BE"),
        (le("0\n"), "UTF-16LE"),
        (be("0\r\n1\r\n"), "UTF-16BE"),
        // A comment with a character beyond ASCII, and a first line past
        // the 1,024-byte limit.
        (le("# latencies in µs/1e6\n0.1\n"), "UTF-16LE"),
        (le(&format!("# {}\n0.1\n", "x".repeat(2000))), "UTF-16LE"),
        (be(&format!("{}\n", "1".repeat(2000))), "UTF-16BE"),
    ];
    for (bytes, name) in cases {
        load_plain_and_gzipped(dir.path(), &bytes, |path, gzipped, err| {
            assert!(
                matches!(err, LatencyError::TraceEncoding { encoding, gzip, marked: false, .. }
                    if encoding == name && gzip == gzipped),
                "{name} {}: {err:?}",
                path.display()
            );
            assert_eq!(
                err.to_string(),
                format!(
                    "{}: the file looks like {name} text without a byte-order mark (a NUL \
                     byte beside each character of its first line); a trace must be UTF-8",
                    path.display()
                )
            );
        });
    }
    for bytes in [
        &b"\x00\x00\x00\n"[..],
        b"\x00\n",
        b"\x89PNG\x00\x00\x00\x0dIHDR\n",
        b"0.1\n0\x00.\x002\x00\n",
    ] {
        let err = Trace::from_bytes("t.txt", bytes).unwrap_err();
        assert!(err.to_string().contains("binary data"), "{bytes:?}: {err}");
    }
}

#[test]
fn bad_trace_lines_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&[u8], usize, &str)] = &[
        (b"0.1\n\n0.2\n", 2, "empty line"),
        (b"0.1\n0.2\nfast\n", 3, "\"fast\""),
        (b"0.1\n-0.5\n", 2, "must be >= 0, found \"-0.5\""),
        (b"nan\n", 1, "NaN"),
        (b"0.1\ninf\n", 2, "infinity"),
        (b"0.1\n1e400\n", 2, "infinity"),
        (b"0.1\n0.2 0.3\n", 2, "\"0.2 0.3\""),
        (b"0.1\n\xff\xfe\x00\x01\n", 2, "binary data"),
        (b"0.1\n0.\xe9\n", 2, "invalid UTF-8"),
        (b"0.1\n0,5\n", 2, "\"0,5\""),
    ];
    for (i, (bytes, line, needle)) in cases.iter().enumerate() {
        let name = format!("bad{i}.txt");
        let path = write(dir.path(), &name, bytes);
        let err = Trace::load(&path).unwrap_err();
        let message = err.to_string();
        assert!(
            matches!(err, LatencyError::TraceLine { line: l, .. } if l == *line),
            "case {i}: {message}"
        );
        assert!(
            message.contains(&format!("{name}:{line}: ")),
            "case {i}: {message}"
        );
        assert!(message.contains(needle), "case {i}: {message}");
        // The same content gzip-compressed reports the same line.
        let path = write(dir.path(), &format!("{name}.gz"), &gzip(bytes));
        let err = Trace::load(&path).unwrap_err();
        assert!(
            matches!(err, LatencyError::TraceLine { line: l, .. } if l == *line),
            "case {i} (gzip): {err}"
        );
    }
    let long = vec![b'1'; 5000];
    let path = write(dir.path(), "long.txt", &long);
    let err = Trace::load(&path).unwrap_err();
    assert!(
        err.to_string().contains(
            "long.txt:1: line is 5,000 bytes long, but a latency line may have at most 1,024 bytes"
        ),
        "{err}"
    );
}

/// Lines over 1,024 bytes were refused, comments included ("line is
/// longer than 1024 bytes"). A comment line of any length is skipped (not
/// held: a 300 MB one takes 5 MB); a latency line is still bounded, and the
/// message gives its line, length and the limit.
#[test]
fn long_comment_lines_are_skipped_and_long_latency_lines_say_how_long() {
    let dir = tempfile::tempdir().unwrap();
    let comment = format!("# {}", "x".repeat(100_000));
    let padded = |n: usize| format!("0.3{}", " ".repeat(n - 3));
    let good = [
        format!("{comment}\n0.1\n{comment}\r\n0.2\n\t{comment}\n0.3\n{comment}"),
        format!("\u{feff}  {comment}\n0.1\n"),
        // Exactly 1,024 bytes before the line end, with `\n` or `\r\n`,
        // and at the end of the file.
        format!(
            "0.1\n{}\n{}\r\n{}",
            padded(1024),
            padded(1024),
            padded(1024)
        ),
    ];
    for (i, text) in good.iter().enumerate() {
        let path = write(dir.path(), "t.txt", text.as_bytes());
        let trace = Trace::load(&path).unwrap_or_else(|e| panic!("case {i}: {e}"));
        assert!(!trace.is_empty(), "case {i}");
        let path = write(dir.path(), "t.txt.gz", &gzip(text.as_bytes()));
        assert_eq!(
            Trace::load(&path).unwrap().values(),
            trace.values(),
            "case {i}"
        );
    }
    let path = write(dir.path(), "t.txt", good[0].as_bytes());
    assert_eq!(Trace::load(&path).unwrap().values(), &[0.1, 0.2, 0.3]);

    let bad: [(String, &str); 4] = [
        (
            format!("0.1\n{}\n", padded(1025)),
            "t.txt:2: line is 1,025 bytes long, but a latency line may have at most 1,024 bytes",
        ),
        (
            format!("0.1\n# ok\n{}\n0.2\n", "7".repeat(50_000)),
            "t.txt:3: line is 50,000 bytes long",
        ),
        (
            "7".repeat(3 << 20),
            "t.txt:1: line is over 1,049,601 bytes long",
        ),
        (
            format!("0.1\n{comment}\0\n0.2\n"),
            "t.txt:2: found binary data (a NUL byte) in a line of over 1,024 bytes",
        ),
    ];
    for (text, needle) in bad {
        let path = write(dir.path(), "t.txt", text.as_bytes());
        let err = Trace::load(&path).unwrap_err();
        assert!(matches!(err, LatencyError::TraceLine { .. }), "{err:?}");
        assert!(err.to_string().contains(needle), "{err}");
    }
}

#[test]
fn empty_and_missing_traces_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in [("empty.txt", &b""[..]), ("comments.txt", b"# nothing\n")] {
        let path = write(dir.path(), name, bytes);
        let err = Trace::load(&path).unwrap_err();
        assert!(matches!(err, LatencyError::TraceEmpty { .. }), "{err}");
        assert!(err.to_string().contains(name), "{err}");
    }
    let err = Trace::load(dir.path().join("missing.txt")).unwrap_err();
    assert!(matches!(err, LatencyError::TraceOpen { .. }), "{err}");
    assert!(err.to_string().contains("missing.txt"), "{err}");
    // A directory is not a trace either.
    assert!(Trace::load(dir.path()).is_err());
}

#[test]
fn trace_workload_wraps_only_when_asked() {
    let trace = Trace::from_values("lat.txt", vec![0.1, 0.2, 0.3]).unwrap();
    let source = LatencySource::Trace(trace.clone());
    assert_eq!(workload(&source, 1, 2).unwrap(), vec![0.1, 0.2]);
    assert_eq!(workload(&source, 99, 3).unwrap(), vec![0.1, 0.2, 0.3]);
    let err = workload(&source, 1, 5).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("lat.txt"), "{message}");
    assert!(message.contains("has 3 latencies"), "{message}");
    assert!(message.contains("wrap = true"), "{message}");
    let wrapped = LatencySource::Trace(trace.with_wrap(true));
    assert_eq!(
        workload(&wrapped, 1, 7).unwrap(),
        vec![0.1, 0.2, 0.3, 0.1, 0.2, 0.3, 0.1]
    );
    assert!(Trace::from_values("x", vec![]).is_err());
    assert!(Trace::from_values("x", vec![0.1, -1.0]).is_err());
}

#[test]
fn trace_serializes_without_values() {
    let trace = Trace::from_values("lat.txt", vec![0.1, 0.3])
        .unwrap()
        .with_wrap(true);
    let json = serde_json::to_value(LatencySource::Trace(trace)).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "distribution": "trace", "path": "lat.txt", "wrap": true, "len": 2,
            "mean": 0.2, "description": "trace(lat.txt, 2 values, wrap)"
        })
    );
}

//! Charts: real PNG and SVG files of the requested size, not blank, the same
//! bytes every time, and clean errors.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn bpsim() -> Command {
    Command::cargo_bin("bpsim").unwrap()
}

/// Width, height and the number of distinct colours of a PNG.
fn inspect_png(path: &Path) -> (u32, u32, usize) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let px = info.color_type.samples();
    let mut colours: Vec<&[u8]> = buf[..info.buffer_size()].chunks(px).collect();
    colours.sort_unstable();
    colours.dedup();
    (info.width, info.height, colours.len())
}

#[test]
fn run_charts_are_pngs_of_the_requested_size_and_not_blank() {
    let out = tempfile::tempdir().unwrap();
    bpsim()
        .args(["run", "--plot", "--size", "900x600", "--output-dir"])
        .arg(out.path())
        .arg(root().join("tests/scenarios/ties.toml"))
        .assert()
        .success();
    for name in ["memory", "timeline", "total_time"] {
        let path = out.path().join(format!("ties/{name}.png"));
        let (w, h, colours) = inspect_png(&path);
        assert_eq!((w, h), (900, 600), "{name}");
        // Text, axes and four strategies' colours, anti-aliased.
        assert!(colours > 20, "{name} has only {colours} colours");
    }
}

#[test]
fn sweep_chart_by_plot_and_the_same_bytes_twice() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for dir in [&a, &b] {
        bpsim()
            .args(["plot", "--output-dir"])
            .arg(dir.path())
            .arg(root().join("tests/scenarios/sweep_small.toml"))
            .assert()
            .success();
    }
    let pa = a.path().join("sweep_small/sweep.png");
    let (w, h, colours) = inspect_png(&pa);
    assert_eq!((w, h), (1200, 800));
    assert!(colours > 20);
    assert_eq!(
        std::fs::read(&pa).unwrap(),
        std::fs::read(b.path().join("sweep_small/sweep.png")).unwrap()
    );
    // plot also leaves the sweep's CSV.
    assert!(a.path().join("sweep_small/sweep.csv").exists());
}

#[test]
fn svg_on_request() {
    let out = tempfile::tempdir().unwrap();
    bpsim()
        .args([
            "run",
            "--plot",
            "--image-format",
            "svg",
            "--no-write",
            "--output-dir",
        ])
        .arg(out.path())
        .arg(root().join("tests/scenarios/ties.toml"))
        .assert()
        .success();
    let svg = std::fs::read_to_string(out.path().join("ties/memory.svg")).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..60.min(svg.len())]);
    assert!(svg.contains("Peak memory per strategy"));
    assert!(svg.trim_end().ends_with("</svg>"));
}

#[test]
fn unwritable_chart_folder_is_a_clean_error() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"x").unwrap();
    let out = bpsim()
        .args(["run", "--plot", "--no-write", "--output-dir"])
        .arg(&blocker)
        .arg(root().join("tests/scenarios/ties.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot write"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn bad_size_is_refused_with_the_expected_form() {
    // Well formed but too small: 200x150 was the smallest size accepted
    // until charts had to be legible.
    for size in ["12x8", "200x150", "399x300"] {
        let out = bpsim()
            .args(["run", "--plot", "--size", size])
            .arg(root().join("tests/scenarios/ties.toml"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{size}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("WIDTHxHEIGHT"), "{stderr}");
        assert!(stderr.contains("between 400x300 and"), "{stderr}");
    }
}

#[test]
fn charts_at_the_smallest_size() {
    let out = tempfile::tempdir().unwrap();
    bpsim()
        .args([
            "run",
            "--plot",
            "--no-write",
            "--size",
            "400x300",
            "--output-dir",
        ])
        .arg(out.path())
        .arg(root().join("tests/scenarios/ties.toml"))
        .assert()
        .success();
    for name in ["memory", "timeline", "total_time"] {
        let (w, h, colours) = inspect_png(&out.path().join(format!("ties/{name}.png")));
        assert_eq!((w, h), (400, 300), "{name}");
        assert!(colours > 20, "{name} has only {colours} colours");
    }
}

/// A sweep whose values are listed out of order, with a second swept
/// parameter: each line is drawn left to right, and the lines of one
/// strategy at different values of the second parameter get different
/// colours.
#[test]
fn sweep_lines_run_in_x_order_in_a_colour_each() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("unsorted.toml");
    std::fs::write(
        &scenario,
        "name = \"unsorted\"\nrequests = 200\nconcurrency = 5\n\
         strategies = [\"batching\", \"worker_pool\"]\n\
         [latency]\ndistribution = \"uniform\"\nmean = 0.15\nwidth = 0.1\n\
         [sweep]\nlatency.width = [0.1, 0.0, 0.05]\nconcurrency = [1, 5]\n",
    )
    .unwrap();
    bpsim()
        .args(["plot", "--image-format", "svg", "--output-dir"])
        .arg(dir.path())
        .arg(&scenario)
        .assert()
        .success();
    let svg = std::fs::read_to_string(dir.path().join("unsorted/sweep.svg")).unwrap();
    // The data lines (axes and ticks are drawn 1 pixel wide).
    let lines: Vec<(&str, Vec<f64>)> = svg
        .split("<polyline")
        .skip(1)
        .filter(|p| p.contains("stroke-width=\"2\""))
        .map(|p| {
            let field = |name: &str| p.split(name).nth(1).unwrap().split('"').next().unwrap();
            let xs = field("points=\"")
                .split_whitespace()
                .map(|xy| xy.split(',').next().unwrap().parse().unwrap())
                .collect();
            (field("stroke=\""), xs)
        })
        .collect();
    // Two panels of four lines: two strategies at two limits.
    assert_eq!(lines.len(), 8, "{lines:?}");
    for (colour, xs) in &lines {
        assert_eq!(xs.len(), 3, "{colour}");
        assert!(xs.windows(2).all(|w| w[0] < w[1]), "{colour}: {xs:?}");
    }
    let mut colours: Vec<&str> = lines.iter().map(|(c, _)| *c).collect();
    colours.sort_unstable();
    colours.dedup();
    assert_eq!(colours.len(), 4, "{colours:?}");
}

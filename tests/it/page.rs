//! The HTML report end to end: real runs' JSON, `clobber report`, `--html`, a merged run, bad
//! input, and the page rendered by headless Chromium (the screenshot is kept as an artefact).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use clobber::config::ServeMode;

use crate::binary::{clobber, wait_for};
use crate::support::{dead_addr, serve};

fn workdir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("page-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A one-second run against a fresh `clobber serve --mode http`, its JSON report saved.
fn json_run(path: &Path, extra: &[&str]) {
    let server = serve(ServeMode::Http, None);
    let url = format!("http://{}/", server.local_addr());
    let mut args = vec![url.as_str(), "-d", "1s", "-c", "4", "-t", "1", "--no-pin", "--json"];
    args.extend_from_slice(extra);
    let out = clobber(&args);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::write(path, &out.stdout).unwrap();
    server.stop().unwrap();
}

fn chromium() -> &'static str {
    for path in ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"] {
        if Path::new(path).exists() {
            return path;
        }
    }
    panic!("Chromium is not installed: this test renders the page in it (apt-get install chromium, or run scripts/test.sh)");
}

/// Renders `page` in headless Chromium at 1280 px wide and returns the screenshot's pixels
/// (RGB) with its size.
pub fn screenshot(page: &Path, png: &Path) -> (Vec<u8>, u32, u32) {
    screenshot_of_height(page, png, 2400)
}

/// As `screenshot`, with the window `height` px tall.
fn screenshot_of_height(page: &Path, png: &Path, height: u32) -> (Vec<u8>, u32, u32) {
    let profile = png.with_extension("profile");
    let child = Command::new(chromium())
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"])
        .arg(format!("--window-size=1280,{height}"))
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    let out = wait_for(child, Duration::from_secs(90));
    let _ = std::fs::remove_dir_all(&profile);
    assert!(png.exists(), "no screenshot: {}", String::from_utf8_lossy(&out.stderr));
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let rgb: Vec<u8> = buf[..info.buffer_size()].chunks(channels).flat_map(|p| [p[0], p[1], p[2]]).collect();
    (rgb, info.width, info.height)
}

/// Pixels within `tolerance` of `colour`.
pub fn count_near(rgb: &[u8], colour: (u8, u8, u8), tolerance: i32) -> usize {
    rgb.chunks(3)
        .filter(|p| {
            (p[0] as i32 - colour.0 as i32).abs() <= tolerance
                && (p[1] as i32 - colour.1 as i32).abs() <= tolerance
                && (p[2] as i32 - colour.2 as i32).abs() <= tolerance
        })
        .count()
}

#[test]
fn two_runs_render_in_chromium_with_both_runs_drawn() {
    let dir = workdir("chromium");
    let (before, after) = (dir.join("before.json"), dir.join("after.json"));
    json_run(&before, &[]);
    json_run(&after, &["-R", "2000"]);
    let page = dir.join("compare.html");
    let out = clobber(&["report", before.to_str().unwrap(), after.to_str().unwrap(), "-o", page.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let html = std::fs::read_to_string(&page).unwrap();
    // Nothing to fetch, so nothing can break: no script, stylesheet, image, font or link.
    for needle in ["<script", "<link", "<img", "<iframe", "@import", "url(", "src=", "href="] {
        assert!(!html.contains(needle), "the page references something outside itself: {needle}");
    }
    assert_eq!(html.matches("<svg").count(), 3, "percentiles, throughput, latency over time");
    assert!(html.contains("<th>before</th>") && html.contains("<th>after</th>"));
    assert!(html.contains("after (uncorrected)"), "the paced run has both curves");

    let png = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-screenshot.png");
    let _ = std::fs::remove_file(&png);
    let (rgb, width, height) = screenshot(&page, &png);
    eprintln!("screenshot kept at {}", png.display());
    assert_eq!(width, 1280);
    let pixels = (width * height) as usize;
    let white = count_near(&rgb, (255, 255, 255), 8);
    assert!(white < pixels * 97 / 100, "the page is blank: {white} of {pixels} pixels are white");
    // Both runs' lines are on screen in their colours (near-black and orange).
    let first = count_near(&rgb, (26, 26, 26), 12);
    let second = count_near(&rgb, (230, 159, 0), 24);
    assert!(first > 500 && second > 500, "run colours on screen: {first} and {second} pixels");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn html_flag_writes_the_page_from_a_run_and_merged_runs_render() {
    let dir = workdir("flag");
    let server = serve(ServeMode::Http, None);
    let url = format!("http://{}/", server.local_addr());
    let page = dir.join("run.html");
    let out = clobber(&[&url, "-n", "500", "-c", "2", "--no-pin", "--html", page.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Histogram"), "the text report has its histogram");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("<td class=\"num\">500</td>"), "the requests row");
    server.stop().unwrap();

    let (a, b) = (dir.join("a.json"), dir.join("b.json"));
    json_run(&a, &[]);
    json_run(&b, &[]);
    let merged = clobber(&["merge", a.to_str().unwrap(), b.to_str().unwrap(), "--json"]);
    assert_eq!(merged.status.code(), Some(0));
    let m = dir.join("merged.json");
    std::fs::write(&m, &merged.stdout).unwrap();
    let out = clobber(&["report", m.to_str().unwrap(), "--label", "two machines"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let html = String::from_utf8(out.stdout).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<th>two machines</th>"));
    assert_eq!(html.matches("<svg").count(), 3);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_input_gets_a_message_and_empty_runs_a_page() {
    let dir = workdir("bad");
    let foreign = dir.join("wrk.json");
    std::fs::write(&foreign, r#"{"requests": 10, "latency": {"p99": 3}}"#).unwrap();
    for (file, expect) in
        [(foreign.to_str().unwrap(), "not a clobber JSON report"), ("/nonexistent/run.json", "cannot read it")]
    {
        let out = clobber(&["report", file]);
        assert_eq!(out.status.code(), Some(2), "{file}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expect) && err.contains(file) && err.trim().lines().count() == 1, "{err}");
    }
    let out = clobber(&["report"]);
    assert_eq!(out.status.code(), Some(2));

    // Nothing listening: zero requests, and the page still renders, saying so.
    let empty = dir.join("empty.json");
    let out = clobber(&[&format!("http://{}/", dead_addr()), "-d", "300ms", "-c", "1", "--no-pin", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    std::fs::write(&empty, &out.stdout).unwrap();
    let out = clobber(&["report", empty.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let html = String::from_utf8(out.stdout).unwrap();
    assert!(html.contains("no responses: nothing to plot") && html.contains("connect_refused"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Gives a saved JSON report a profile made of `folded` stacks, as `--perf` would record it.
fn add_profile(path: &Path, folded: &str) {
    let mut report: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    report["profile"] = serde_json::json!({
        "samples": 100, "frequency_hz": 999,
        "top": [{"function": "write", "share": 0.5}],
        "folded": folded,
    });
    std::fs::write(path, serde_json::to_vec(&report).unwrap()).unwrap();
}

#[test]
fn profiled_json_reports_get_their_flamegraphs_and_a_differential_one() {
    let dir = workdir("profiles");
    let (a, b) = (dir.join("before.json"), dir.join("after.json"));
    json_run(&a, &[]);
    json_run(&b, &[]);
    // From A to B, `write` grows and `parse` shrinks: red and blue in the differential.
    add_profile(&a, "main;serve;parse 600\nmain;serve;write 300\nmain;accept 100\n");
    add_profile(&b, "main;serve;parse 150\nmain;serve;write 750\nmain;accept 100\n");
    let page = dir.join("profiles.html");
    let out = clobber(&["report", a.to_str().unwrap(), b.to_str().unwrap(), "-o", page.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(!html.contains("<script") && !html.contains("onload="), "the page has a script");
    assert_eq!(html.matches("<div class=\"flamegraph").count(), 3, "two flamegraphs, one differential");
    assert!(html.contains("<h2>Profile: before</h2>") && html.contains("<h2>Profile: after</h2>"));
    let at = html.find("<h2>Profile difference: after against before</h2>").expect("a differential section");
    let diff = &html[at..];
    assert!(diff.contains("A is before, B is after.") && diff.contains("red grew, blue shrank"));
    let svg = &diff[diff.find("<svg").unwrap()..diff.find("</div>").unwrap()];
    assert!(svg.contains("A: before, B: after"), "the differential's title names A and B");
    // Each box's tooltip and fill: write grew (red, `rgb(255,..)`), parse shrank (blue, `..,255)`).
    let fill_of = |function: &str| {
        let g = &svg[svg.find(&format!("<title>{function} ")).unwrap_or_else(|| panic!("no {function} box"))..];
        let fill = &g[g.find("fill=\"").unwrap() + 6..];
        fill[..fill.find('"').unwrap()].to_string()
    };
    let (write, parse) = (fill_of("write"), fill_of("parse"));
    assert!(write.starts_with("rgb(255,"), "write grew but is {write}");
    assert!(parse.ends_with(",255)"), "parse shrank but is {parse}");

    let png = Path::new(env!("CARGO_TARGET_TMPDIR")).join("profile-screenshot.png");
    let _ = std::fs::remove_file(&png);
    let (rgb, width, _) = screenshot_of_height(&page, &png, 4400);
    eprintln!("screenshot kept at {}", png.display());
    assert_eq!(width, 1280);
    // Flamegraph boxes are warm (red-orange-yellow); the differential adds a blue one.
    let blue = rgb.chunks(3).filter(|p| p[2] > 200 && p[0] < 200 && p[1] < 200).count();
    let warm = rgb.chunks(3).filter(|p| p[0] > 200 && p[2] < 120).count();
    assert!(blue > 500 && warm > 2000, "blue {blue} and warm {warm} pixels on screen");
    let _ = std::fs::remove_dir_all(&dir);
}

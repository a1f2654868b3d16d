//! `vellum batch`: the real binary over CSV and JSON Lines files in scratch directories.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::{self, decode_png};

pub(crate) fn vellum_batch(templates: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vellum"))
        .arg("batch")
        .arg("--templates")
        .arg(templates)
        .arg("--fonts")
        .arg(support::root().join("fonts"))
        .args(args)
        .output()
        .unwrap()
}

pub(crate) fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub(crate) fn manifest(dir: &Path) -> Vec<Vec<String>> {
    let mut reader = csv::Reader::from_path(dir.join("manifest.csv")).unwrap();
    reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

/// Every regular file under `dir`, relative to it, sorted.
pub(crate) fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    found.sort();
    found
}

#[test]
fn two_hundred_rows_make_two_hundred_images() {
    let dir = support::scratch_dir("batch-200");
    let mut csv = String::from("sku,name,price,old_price,badge\n");
    for i in 0..200 {
        let old = if i % 3 == 0 { "120" } else { "" };
        csv.push_str(&format!(
            "SKU-{i:03},\"Boot, model {i}\",{},{old},New\n",
            50 + i
        ));
    }
    std::fs::write(dir.join("data.csv"), csv).unwrap();
    let out_dir = dir.join("out");
    let out = vellum_batch(
        &support::root().join("templates"),
        &[
            "product",
            dir.join("data.csv").to_str().unwrap(),
            "-o",
            out_dir.to_str().unwrap(),
            "--name",
            "{sku}.png",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("rendered 200, skipped 0, failed 0 in "),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).trim_end().ends_with("images/s)"));
    assert!(
        stderr(&out).contains("not params of product, used for file names only: sku"),
        "{}",
        stderr(&out)
    );
    for i in 0..200 {
        let png = std::fs::read(out_dir.join(format!("SKU-{i:03}.png"))).unwrap();
        let pixels = decode_png(&png);
        assert_eq!((pixels.width, pixels.height), (1200, 630));
    }
    let rows = manifest(&out_dir);
    assert_eq!(rows.len(), 200);
    assert_eq!(
        rows[0],
        [
            "2",
            "SKU-000.png",
            "rendered",
            "1200",
            "630",
            &std::fs::metadata(out_dir.join("SKU-000.png"))
                .unwrap()
                .len()
                .to_string(),
            ""
        ]
    );
}

#[test]
fn bad_rows_are_reported_with_file_and_line_and_the_rest_render() {
    let dir = support::scratch_dir("batch-errors");
    // Line 3 holds a quoted value over two lines, so the row after it starts on line 5.
    let csv = "name,price,badge\n\
               Boot,89,Sale\n\
               \"Two\nlines\",10,\n\
               Hat,-5,\n\
               ,10,\n\
               Scarf,12\n\
               Coat,149,Last one\n";
    let data = dir.join("shop.csv");
    std::fs::write(&data, csv).unwrap();
    let out_dir = dir.join("out");
    let out = vellum_batch(
        &support::root().join("templates"),
        &[
            "product",
            data.to_str().unwrap(),
            "-o",
            out_dir.to_str().unwrap(),
            "--format",
            "webp",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "some rows failed: {}",
        stderr(&out)
    );
    let shown = data.display();
    let err = stderr(&out);
    for expected in [
        format!("{shown}:5: price: expected a number from 0 to 99999999, got \"-5\""),
        format!("{shown}:6: missing required parameter \"name\""),
        format!("{shown}:7: expected 3 fields, got 2"),
    ] {
        assert!(err.contains(&expected), "{expected}\nnot in:\n{err}");
    }
    assert!(stdout(&out).starts_with("rendered 3, skipped 0, failed 3 in "));
    // {row} numbers data rows, padded to the row count's width.
    let written = files_under(&out_dir);
    let names: Vec<&str> = written.iter().map(|p| p.to_str().unwrap()).collect();
    assert_eq!(names, ["1.webp", "2.webp", "6.webp", "manifest.csv"]);
    for name in ["1.webp", "2.webp", "6.webp"] {
        let bytes = std::fs::read(out_dir.join(name)).unwrap();
        assert_eq!(support::webp_size(&bytes), (1200, 630));
    }
    let statuses: Vec<(String, String)> = manifest(&out_dir)
        .into_iter()
        .map(|r| (r[0].clone(), r[2].clone()))
        .collect();
    let expected: Vec<(String, String)> = [
        ("2", "rendered"),
        ("3", "rendered"),
        ("5", "failed"),
        ("6", "failed"),
        ("7", "failed"),
        ("8", "rendered"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(statuses, expected);
}

#[test]
fn resume_skips_what_is_done_until_the_template_changes() {
    let dir = support::scratch_dir("batch-resume");
    let templates = dir.join("templates");
    support::copy_templates(&templates);
    let data = dir.join("posts.jsonl");
    std::fs::write(
        &data,
        "{\"slug\": \"a\", \"title\": \"First\"}\n{\"slug\": \"b\", \"title\": \"Second\"}\n",
    )
    .unwrap();
    let out_dir = dir.join("out");
    let args = [
        "post",
        data.to_str().unwrap(),
        "-o",
        out_dir.to_str().unwrap(),
        "--name",
        "{slug}.png",
        "--resume",
    ];
    let first = vellum_batch(&templates, &args);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(stdout(&first).starts_with("rendered 2, skipped 0, failed 0"));
    let written_at = std::fs::metadata(out_dir.join("a.png"))
        .unwrap()
        .modified()
        .unwrap();

    let second = vellum_batch(&templates, &args);
    assert!(second.status.success());
    assert!(
        stdout(&second).starts_with("rendered 0, skipped 2, failed 0"),
        "{}",
        stdout(&second)
    );
    let untouched = std::fs::metadata(out_dir.join("a.png"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(written_at, untouched);
    let statuses: Vec<String> = manifest(&out_dir)
        .into_iter()
        .map(|r| r[2].clone())
        .collect();
    assert_eq!(statuses, ["skipped", "skipped"]);

    // An edited template is newer than the files: everything renders again.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let svg = templates.join("post.svg");
    std::fs::write(&svg, std::fs::read(&svg).unwrap()).unwrap();
    let third = vellum_batch(&templates, &args);
    assert!(
        stdout(&third).starts_with("rendered 2, skipped 0"),
        "{}",
        stdout(&third)
    );
}

#[test]
fn file_names_cannot_leave_the_output_directory() {
    let dir = support::scratch_dir("batch-names");
    let data = dir.join("data.jsonl");
    let rows = [
        r#"{"slug": "../../escaped", "title": "a"}"#,
        r#"{"slug": "/etc/passwd", "title": "b"}"#,
        r#"{"slug": "..", "title": "c"}"#,
        r#"{"slug": "a\\..\\..\\win", "title": "d"}"#,
        r#"{"slug": "nul\u0000byte", "title": "e"}"#,
        r#"{"slug": "", "title": "f"}"#,
    ];
    std::fs::write(&data, rows.join("\n")).unwrap();
    let out_dir = dir.join("deep").join("out");
    let out = vellum_batch(
        &support::root().join("templates"),
        &[
            "post",
            data.to_str().unwrap(),
            "-o",
            out_dir.to_str().unwrap(),
            "--name",
            "cards/{slug}.svg",
        ],
    );
    // ".." and "" both become "_": the second one fails instead of overwriting.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(":6: file name \"cards/_.svg\" is already line 3's"),
        "{}",
        stderr(&out)
    );
    // Nothing outside out/, and every value became one file inside out/cards/.
    let everything = files_under(&dir);
    assert!(
        everything
            .iter()
            .all(|p| p.starts_with("deep/out") || p == Path::new("data.jsonl")),
        "{everything:?}"
    );
    let cards = files_under(&out_dir.join("cards"));
    let names: Vec<&str> = cards.iter().map(|p| p.to_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "_.._escaped.svg",
            "_.svg",
            "_etc_passwd.svg",
            "a_.._.._win.svg",
            "nul_byte.svg"
        ]
    );

    for pattern in [
        "../{slug}.png",
        "/tmp/{slug}.png",
        "a/../../{slug}.png",
        "plain.png",
    ] {
        let out = vellum_batch(
            &support::root().join("templates"),
            &[
                "post",
                data.to_str().unwrap(),
                "-o",
                out_dir.to_str().unwrap(),
                "--name",
                pattern,
            ],
        );
        assert_eq!(out.status.code(), Some(2), "{pattern}");
        assert!(
            stderr(&out).contains("file name pattern"),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn json_lines_report_bad_lines_the_same_way() {
    let dir = support::scratch_dir("batch-jsonl");
    let data = dir.join("posts.jsonl");
    let lines = [
        r#"{"title": "One", "theme": "light"}"#,
        r#"{"title": "Two", "#,
        "",
        r#"{"title": ["not", "text"]}"#,
        r#"{"title": "Five", "subtitle": null, "scale": 0.5}"#,
        r#"{"title": "Six", "theme": "blue"}"#,
    ];
    std::fs::write(&data, lines.join("\n")).unwrap();
    let out_dir = dir.join("out");
    let out = vellum_batch(
        &support::root().join("templates"),
        &[
            "post",
            data.to_str().unwrap(),
            "-o",
            out_dir.to_str().unwrap(),
            "--manifest",
            dir.join("run.json").to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let shown = data.display();
    let err = stderr(&out);
    for expected in [
        format!("{shown}:2: invalid JSON: EOF while parsing a value (column 17)"),
        format!("{shown}:4: title: expected a string, number or boolean"),
        format!("{shown}:6: theme: expected one of dark, light, got \"blue\""),
    ] {
        assert!(err.contains(&expected), "{expected}\nnot in:\n{err}");
    }
    let run: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("run.json")).unwrap()).unwrap();
    let rows = run.as_array().unwrap();
    assert_eq!(rows.len(), 5, "blank lines are not rows");
    assert_eq!(rows[0]["file"], "1.png");
    assert_eq!(rows[0]["status"], "rendered");
    assert_eq!(rows[3]["line"], 5);
    assert_eq!(
        (rows[3]["width"].as_u64(), rows[3]["height"].as_u64()),
        (Some(600), Some(315))
    );
    let small = decode_png(&std::fs::read(out_dir.join("4.png")).unwrap());
    assert_eq!((small.width, small.height), (600, 315));
}

#[test]
fn shards_together_render_every_row_exactly_once() {
    let dir = support::scratch_dir("batch-shards");
    let mut csv = String::from("name,price\n");
    for i in 0..23 {
        csv.push_str(&format!("Item {i},{}\n", 10 + i));
    }
    let data = dir.join("data.csv");
    std::fs::write(&data, csv).unwrap();
    let templates = support::root().join("templates");
    // One run of everything, for comparison.
    let whole = dir.join("whole");
    let out = vellum_batch(
        &templates,
        &[
            "product",
            data.to_str().unwrap(),
            "-o",
            whole.to_str().unwrap(),
            "--format",
            "svg",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // Three shards into one directory, each with its own report.
    let split = dir.join("split");
    let mut lines = Vec::new();
    for k in 1..=3 {
        let report = dir.join(format!("report-{k}.csv"));
        let shard = format!("{k}/3");
        let out = vellum_batch(
            &templates,
            &[
                "product",
                data.to_str().unwrap(),
                "-o",
                split.to_str().unwrap(),
                "--format",
                "svg",
                "--shard",
                &shard,
                "--manifest",
                report.to_str().unwrap(),
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let expected = [8, 8, 7][k - 1];
        assert!(
            stdout(&out).starts_with(&format!("rendered {expected}, skipped 0, failed 0 in ")),
            "shard {k}: {}",
            stdout(&out)
        );
        let mut reader = csv::Reader::from_path(&report).unwrap();
        lines.extend(reader.records().map(|r| r.unwrap()[0].to_string()));
    }
    // Every data line (2 to 24) exactly once across the shards' reports.
    lines.sort_by_key(|l| l.parse::<u32>().unwrap());
    let all: Vec<String> = (2..=24).map(|l| l.to_string()).collect();
    assert_eq!(lines, all);
    // The same files, with the same names and bytes, as the single run.
    let mut whole_files = files_under(&whole);
    whole_files.retain(|f| f.to_str() != Some("manifest.csv"));
    assert_eq!(files_under(&split), whole_files);
    for file in &whole_files {
        assert_eq!(
            std::fs::read(whole.join(file)).unwrap(),
            std::fs::read(split.join(file)).unwrap(),
            "{}",
            file.display()
        );
    }
    let bad = vellum_batch(
        &templates,
        &[
            "product",
            data.to_str().unwrap(),
            "-o",
            split.to_str().unwrap(),
            "--shard",
            "4/3",
        ],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("expected K/N with 1 <= K <= N, like 2/8, got \"4/3\""),
        "{}",
        stderr(&bad)
    );
}

/// A tmpfs mounted for a test, unmounted when dropped.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let run = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "mounting a tmpfs needs root: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        Tmpfs {
            dir: dir.to_path_buf(),
        }
    }

    fn grow(&self, size: &str) {
        let run = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.dir)
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.dir).output();
    }
}

#[test]
fn a_full_disk_stops_the_run_cleanly_and_resume_finishes_it() {
    let dir = support::scratch_dir("batch-full-disk");
    let mut csv = String::from("sku,name,price\n");
    for i in 0..24 {
        csv.push_str(&format!("S{i:02},Trail runner {i},{}\n", 80 + i));
    }
    let data = dir.join("data.csv");
    std::fs::write(&data, csv).unwrap();
    let disk = Tmpfs::mount(&dir.join("out"), "400k");
    let args = [
        "product",
        data.to_str().unwrap(),
        "-o",
        disk.dir.to_str().unwrap(),
        "--name",
        "{sku}.png",
        "--jobs",
        "2",
    ];
    let out = vellum_batch(&support::root().join("templates"), &args);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    let full: Vec<&str> = err.lines().filter(|l| l.starts_with("vellum: ")).collect();
    assert_eq!(full.len(), 1, "one message:\n{err}");
    assert!(
        full[0].starts_with(&format!(
            "vellum: {}: the disk is full; stopped with ",
            disk.dir.display()
        )),
        "{err}"
    );
    assert!(!err.contains("No space left"), "no per-row errors:\n{err}");
    // What is there is whole, and no temporary file is left behind.
    let written = files_under(&disk.dir);
    assert!(!written.is_empty() && written.len() < 24, "{written:?}");
    for file in &written {
        let name = file.to_str().unwrap();
        assert!(!name.contains(".tmp"), "left behind: {name}");
        if name.ends_with(".png") {
            let card = decode_png(&std::fs::read(disk.dir.join(file)).unwrap());
            assert_eq!((card.width, card.height), (1200, 630), "{name}");
        }
    }
    let images = written
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "png"))
        .count();

    // With room, --resume renders only what is missing.
    disk.grow("16m");
    let resumed = vellum_batch(
        &support::root().join("templates"),
        &[&args[..], &["--resume"]].concat(),
    );
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert!(
        stdout(&resumed).starts_with(&format!(
            "rendered {}, skipped {images}, failed 0 in ",
            24 - images
        )),
        "{}",
        stdout(&resumed)
    );
    let pngs = files_under(&disk.dir)
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "png"))
        .count();
    assert_eq!(pngs, 24);
}

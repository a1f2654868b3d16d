//! The `vellum` command, run as a user would.

use std::process::{Command, Output};

use crate::support::{self, decode_png};

pub(crate) fn vellum(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vellum"))
        .args(args)
        .current_dir(support::root())
        .env_remove("RUST_LOG")
        .output()
        .expect("vellum runs")
}

pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn render_writes_the_same_image_as_the_endpoint_would() {
    let dir = support::scratch_dir("cli-render");
    let out = dir.join("card.png");
    let run = vellum(&[
        "render",
        "post",
        "title=Hello",
        "author=Ada",
        "scale=0.5",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let pixels = decode_png(&std::fs::read(&out).unwrap());
    assert_eq!((pixels.width, pixels.height), (600, 315));

    let webp = dir.join("card.webp");
    let run = vellum(&[
        "render",
        "product",
        "name=Boot",
        "price=89",
        "-o",
        webp.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert_eq!(
        crate::support::webp_size(&std::fs::read(&webp).unwrap()),
        (1200, 630)
    );
}

#[test]
fn render_reports_bad_params_with_exit_code_1() {
    let out = support::scratch_dir("cli-bad").join("x.png");
    let run = vellum(&[
        "render",
        "post",
        "title=Hi",
        "theme=blue",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(1));
    assert_eq!(
        stderr(&run),
        "vellum: post: theme: expected one of dark, light, got \"blue\"\n"
    );
    assert!(!out.exists());

    let run = vellum(&["render", "nope", "-o", out.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(1));
    assert_eq!(stderr(&run), "vellum: nope: unknown template: \"nope\"\n");
}

#[test]
fn setup_problems_exit_with_code_2_naming_the_file_and_field() {
    let dir = support::scratch_dir("cli-broken");
    support::copy_templates(&dir);
    let manifest = std::fs::read_to_string(dir.join("post.toml")).unwrap();
    std::fs::write(
        dir.join("post.toml"),
        manifest.replace("type = \"enum\"", "type = \"choice\""),
    )
    .unwrap();
    let run = vellum(&["templates", "--templates", dir.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(2));
    let err = stderr(&run);
    assert!(
        err.contains("post.toml: params.theme: type: expected one of text, color, number, enum, bool, image, got \"choice\""),
        "{err}"
    );

    let run = vellum(&["render", "post", "title", "-o", "x.png"]);
    assert_eq!(run.status.code(), Some(2));
    assert_eq!(stderr(&run), "vellum: \"title\": expected key=value\n");
}

#[test]
fn templates_lists_every_template_with_its_params() {
    let run = vellum(&["templates"]);
    assert!(run.status.success(), "{}", stderr(&run));
    let out = String::from_utf8(run.stdout).unwrap();
    assert!(
        out.contains("post (og 1200x630, square 1080x1080, story 1080x1920): Blog post"),
        "{out}"
    );
    assert!(out.contains("  theme        dark|light"), "{out}");
    let title = format!("  title        {:<28} required", "text, max 200 chars");
    assert!(out.contains(&title), "{out}");
    assert!(out.contains("product (1200x630)") && out.contains("certificate (1200x848)"));
}

#[test]
fn templates_check_reports_text_no_font_can_draw() {
    let bundled = vellum(&["templates", "--check"]);
    assert!(bundled.status.success(), "{}", stderr(&bundled));
    assert!(String::from_utf8_lossy(&bundled.stdout).contains("post: every character has a glyph"));

    // Static Tamil text (no bundled font has it) and a Tamil example.
    let dir = support::scratch_dir("cli-check");
    std::fs::write(
        dir.join("t.toml"),
        "width = 200\nheight = 60\n[params.name]\ntype = \"text\"\nexample = \"தமிழ்\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("t.svg"),
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="200" height="60"><text y="30">வணக்கம் {{ name }}</text></svg>"#,
    )
    .unwrap();
    let run = vellum(&["templates", "--check", "--templates", dir.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    let out = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(out.starts_with("t: no loaded font draws \""), "{out}");
    assert!(out.contains("U+0BB5"), "the code points are named: {out}");
}

#[test]
fn a_render_that_draws_missing_glyphs_says_which_param_and_characters() {
    let out = support::scratch_dir("cli-missing").join("card.png");
    let run = vellum(&["render", "post", "title=வணக்கம்", "-o", out.to_str().unwrap()]);
    assert!(run.status.success(), "{}", stderr(&run));
    let log = stderr(&run);
    assert!(
        log.contains("drew missing-glyph boxes") && log.contains("params=title"),
        "{log}"
    );
    assert!(log.contains("U+0BB5"), "{log}");
}

#[test]
fn the_binary_alone_works_from_an_empty_directory() {
    // Only the binary, copied where there is no templates/ or fonts/: the bundled ones are in it.
    // (It is this build's; `cargo install`'s release build bundles them the same way, and
    // deploy/test.sh runs that one.)
    let empty = support::scratch_dir("cli-binary-alone");
    let binary = empty.join("vellum");
    std::fs::copy(env!("CARGO_BIN_EXE_vellum"), &binary).unwrap();
    let run = |args: &[&str]| {
        Command::new(&binary)
            .args(args)
            .current_dir(&empty)
            .env_remove("VELLUM_TEMPLATES")
            .env_remove("VELLUM_FONTS")
            .output()
            .unwrap()
    };
    let listed = run(&["templates"]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    assert!(String::from_utf8_lossy(&listed.stdout).contains("post (og 1200x630, "));
    let rendered = run(&["render", "post", "title=Hi", "-o", "card.png"]);
    assert!(rendered.status.success(), "{}", stderr(&rendered));
    let card = decode_png(&std::fs::read(empty.join("card.png")).unwrap());
    assert_eq!((card.width, card.height), (1200, 630));
    // The title is drawn in white where the template puts it: the fonts loaded.
    let white = (80..160)
        .flat_map(|x| (150..210).map(move |y| (x, y)))
        .filter(|&(x, y)| card.at(x, y)[0] > 240)
        .count();
    assert!(white > 300, "the title is drawn ({white} white pixels)");
    let names: Vec<String> = std::fs::read_dir(&empty)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names.len(),
        2,
        "nothing but the binary and the card: {names:?}"
    );

    let missing = run(&["templates", "--templates", "nowhere"]);
    assert_eq!(missing.status.code(), Some(2));
    assert_eq!(
        stderr(&missing),
        "vellum: --templates nowhere: no such directory\n"
    );
}

#[test]
fn a_template_error_at_render_time_names_the_template_and_the_cause() {
    let dir = support::scratch_dir("cli-tera-runtime");
    support::write_failing_template(&dir);
    let out = dir.join("card.png");
    let run = vellum(&[
        "render",
        "t",
        "w=0",
        "--templates",
        dir.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    let err = stderr(&run);
    assert!(
        err.starts_with("vellum: t: internal error\nvellum: detail: t: fill: "),
        "{err}"
    );
    assert!(
        err.contains("text_box: width, font_size and min_font_size must be positive"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn health_exits_zero_only_while_a_server_answers() {
    let server = crate::support::TestServer::start().await;
    let addr = server.addr.to_string();
    let health = move |addr: String| {
        tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_vellum"))
                .args(["health", "--addr", &addr, "--timeout-secs", "5"])
                .output()
                .unwrap()
        })
    };
    let up = health(addr.clone()).await.unwrap();
    assert!(up.status.success(), "{}", stderr(&up));
    assert_eq!(
        String::from_utf8_lossy(&up.stdout),
        format!("http://{addr}/healthz: ok\n")
    );
    server.stop().await;
    let down = health(addr.clone()).await.unwrap();
    assert_eq!(down.status.code(), Some(1));
    assert!(
        stderr(&down).starts_with(&format!("vellum: http://{addr}/healthz: ")),
        "{}",
        stderr(&down)
    );
}

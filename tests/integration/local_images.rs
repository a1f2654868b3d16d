//! Local images (`--image-dir`): a batch draws photos from disk, every way out of the
//! directories is refused with its own message per row, and a server reads them only when
//! its operator opts in.

use std::path::Path;
use std::sync::Arc;

use hyper::StatusCode;
use vellum::EngineConfig;
use vellum::fetch::{FetchLimits, ImageDirs, ImageSources};
use vellum::server::ServerConfig;

use crate::batch::{files_under, manifest, stderr, stdout, vellum_batch};
use crate::support::{self, TestServer, decode_png};

/// A point inside the product card's photo frame (x 40..540, y 40..590).
const PHOTO: (u32, u32) = (290, 315);

/// A `size`x`size` PNG of one colour.
fn solid_png(size: u32, rgb: [u8; 3]) -> Vec<u8> {
    let mut pixmap = tiny_skia::Pixmap::new(size, size).unwrap();
    pixmap.fill(tiny_skia::Color::from_rgba8(rgb[0], rgb[1], rgb[2], 255));
    pixmap.encode_png().unwrap()
}

/// A shop directory with photos in it, a second image directory, and files outside both.
fn shop(name: &str) -> std::path::PathBuf {
    let dir = support::scratch_dir(name);
    let photos = dir.join("shop/photos");
    std::fs::create_dir_all(&photos).unwrap();
    std::fs::create_dir_all(dir.join("more")).unwrap();
    std::fs::create_dir_all(dir.join("outside")).unwrap();
    std::fs::write(photos.join("sku-1.png"), solid_png(64, [220, 30, 30])).unwrap();
    std::fs::write(photos.join("sku-2.png"), solid_png(64, [30, 60, 220])).unwrap();
    std::fs::write(dir.join("more/sku-3.png"), solid_png(64, [30, 160, 60])).unwrap();
    std::fs::write(dir.join("outside/secret.png"), solid_png(8, [0, 0, 0])).unwrap();
    std::fs::write(photos.join("notes.png"), "not a picture\n").unwrap();
    // Over 5 MiB: refused before it is read.
    let mut big = solid_png(8, [1, 2, 3]);
    big.resize(6 * 1024 * 1024, 0);
    std::fs::write(photos.join("big.png"), big).unwrap();
    // A header that claims 50000x50000 pixels: refused before anything is decoded.
    let mut huge = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
    huge.extend_from_slice(&50_000u32.to_be_bytes());
    huge.extend_from_slice(&50_000u32.to_be_bytes());
    huge.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
    std::fs::write(photos.join("huge.png"), huge).unwrap();
    std::os::unix::fs::symlink("../../outside/secret.png", photos.join("out.png")).unwrap();
    std::os::unix::fs::symlink("sku-2.png", photos.join("in.png")).unwrap();
    dir
}

/// A server of the bundled templates with `dir` as its one image directory.
async fn serving_images_from(dir: &Path) -> TestServer {
    let limits = FetchLimits::default();
    let dirs = ImageDirs::new(&[dir.to_path_buf()], limits.max_bytes, limits.max_side).unwrap();
    let config = ServerConfig {
        images: ImageSources {
            remote: None,
            local: Some(Arc::new(dirs)),
        },
        ..ServerConfig::default()
    };
    TestServer::start_with(EngineConfig::bundled(&support::root()), config).await
}

fn photo_colour(path: &Path) -> [u8; 4] {
    decode_png(&std::fs::read(path).unwrap()).at(PHOTO.0, PHOTO.1)
}

#[test]
fn a_csv_batch_draws_local_photos() {
    let dir = shop("local-images-batch");
    let absolute = dir.join("shop/photos/sku-1.png");
    let csv = format!(
        "sku,name,price,photo\n\
         1,Red boot,10,photos/sku-1.png\n\
         2,Blue boot,20,./photos/sku-2.png\n\
         3,Green boot,30,sku-3.png\n\
         4,Red again,40,{}\n\
         5,Linked,50,photos/in.png\n\
         6,No photo,60,\n",
        absolute.display()
    );
    let data = dir.join("data.csv");
    std::fs::write(&data, csv).unwrap();
    let out_dir = dir.join("out");
    let out = vellum_batch(
        &support::root().join("templates"),
        &[
            "product",
            data.to_str().unwrap(),
            "-o",
            out_dir.to_str().unwrap(),
            "--name",
            "{sku}.png",
            "--image-dir",
            dir.join("shop").to_str().unwrap(),
            "--image-dir",
            dir.join("more").to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("rendered 6, skipped 0, failed 0 in "));
    let red = [220, 30, 30, 255];
    let blue = [30, 60, 220, 255];
    let green = [30, 160, 60, 255];
    for (file, colour) in [
        ("1.png", red),
        ("2.png", blue),
        ("3.png", green),
        ("4.png", red),
        ("5.png", blue),
    ] {
        assert_eq!(photo_colour(&out_dir.join(file)), colour, "{file}");
    }
    // Without a photo the card draws its initial on the theme's panel, not a photo colour.
    let none = photo_colour(&out_dir.join("6.png"));
    assert!(![red, blue, green].contains(&none), "{none:?}");
}

#[test]
fn every_way_out_of_the_image_directories_is_refused_per_row() {
    let dir = shop("local-images-refused");
    let outside = dir.join("outside/secret.png");
    let csv = format!(
        "sku,name,price,photo\n\
         1,Climbs,10,../outside/secret.png\n\
         2,Absolute,10,{}\n\
         3,Linked out,10,photos/out.png\n\
         4,Text file,10,photos/notes.png\n\
         5,Too big,10,photos/big.png\n\
         6,Too many pixels,10,photos/huge.png\n\
         7,Missing,10,photos/none.png\n\
         8,Directory,10,photos\n\
         9,Scheme,10,file:///etc/passwd\n\
         10,Fine,10,photos/sku-1.png\n",
        outside.display()
    );
    let data = dir.join("data.csv");
    std::fs::write(&data, csv).unwrap();
    let out_dir = dir.join("out");
    let out = vellum_batch(
        &support::root().join("templates"),
        &[
            "product",
            data.to_str().unwrap(),
            "-o",
            out_dir.to_str().unwrap(),
            "--name",
            "{sku}.png",
            "--image-dir",
            dir.join("shop").to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let shown = data.display();
    let err = stderr(&out);
    for (line, message) in [
        (
            2,
            "photo: ../outside/secret.png: \"..\" is not allowed in an image path".to_string(),
        ),
        (
            3,
            format!(
                "photo: {} is outside the image directories",
                outside.display()
            ),
        ),
        (
            4,
            "photo: photos/out.png leads outside the image directories (symbolic link)".into(),
        ),
        (
            5,
            "photo: photos/notes.png: not a PNG, JPEG, WebP or GIF image".into(),
        ),
        (
            6,
            "photo: photos/big.png: the image is larger than 5242880 bytes".into(),
        ),
        (
            7,
            "photo: photos/huge.png: the image is 50000x50000 pixels; at most 4096 per side".into(),
        ),
        (
            8,
            "photo: no file photos/none.png in the image directories".into(),
        ),
        (9, "photo: photos is not a file".into()),
        (
            10,
            "photo: expected an http(s) URL or an image path of at most 2048 bytes, got \
             \"file:///etc/passwd\""
                .into(),
        ),
    ] {
        let expected = format!("{shown}:{line}: {message}");
        assert!(err.contains(&expected), "{expected}\nnot in:\n{err}");
    }
    // The product card's placeholder fallback covers failed fetches, never a bad file.
    let written = files_under(&out_dir);
    let names: Vec<&str> = written.iter().map(|p| p.to_str().unwrap()).collect();
    assert_eq!(names, ["10.png", "manifest.csv"]);
    let failed = manifest(&out_dir)
        .iter()
        .filter(|row| row[2] == "failed")
        .count();
    assert_eq!(failed, 9);
    assert_eq!(
        photo_colour(&out_dir.join("10.png")),
        [220, 30, 30, 255],
        "the good row still renders"
    );
}

#[test]
fn without_image_dir_a_path_is_refused_by_name() {
    let dir = shop("local-images-off");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vellum"))
        .current_dir(dir.join("shop"))
        .args(["render", "--templates"])
        .arg(support::root().join("templates"))
        .args([
            "product",
            "name=Boot",
            "price=1",
            "photo=photos/sku-1.png",
            "-o",
            "x.png",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out).trim(),
        "vellum: product: photo: local images are off (no --image-dir given)"
    );
    let missing = std::process::Command::new(env!("CARGO_BIN_EXE_vellum"))
        .current_dir(&dir)
        .args([
            "render",
            "--image-dir",
            "nowhere",
            "product",
            "name=Boot",
            "price=1",
        ])
        .args(["-o", "x.png"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).starts_with("vellum: --image-dir nowhere: No such file or directory"),
        "{}",
        stderr(&missing)
    );
}

#[tokio::test]
async fn a_server_reads_local_images_only_when_its_operator_opts_in() {
    let dir = shop("local-images-serve");
    let server = serving_images_from(&dir.join("shop")).await;
    let reply = server
        .get("/og/product.png?name=Boot&price=1&photo=photos%2Fsku-2.png")
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(
        decode_png(&reply.body).at(PHOTO.0, PHOTO.1),
        [30, 60, 220, 255]
    );
    let refused = server
        .get("/og/product.png?name=Boot&price=1&photo=..%2Foutside%2Fsecret.png")
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        refused.text(),
        "photo: ../outside/secret.png: \"..\" is not allowed in an image path\n"
    );
    assert_eq!(refused.header("cache-control"), "no-store");
    server.stop().await;

    let closed = TestServer::start().await;
    let reply = closed
        .get("/og/product.png?name=Boot&price=1&photo=photos%2Fsku-2.png")
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.text(),
        "photo: local images are off (no --image-dir given)\n"
    );
    closed.stop().await;
}

#[tokio::test]
async fn an_authors_avatar_is_shrunk_once_for_all_her_cards() {
    let dir = shop("local-images-avatar");
    // A photo larger than the 64 px badge it is drawn in, in a colour no other test uses.
    std::fs::write(
        dir.join("shop/photos/ada.png"),
        solid_png(300, [200, 120, 40]),
    )
    .unwrap();
    let server = serving_images_from(&dir.join("shop")).await;
    let hits = |text: &str| support::metric(text, "vellum_shrunk_photos_hits_total");
    let mut before = 0;
    for (i, title) in ["First post", "Second post"].into_iter().enumerate() {
        if i == 1 {
            before = hits(server.get("/metrics").await.text());
        }
        let url = format!(
            "/og/post.png?title={}&author=Ada&avatar=photos%2Fada.png",
            title.replace(' ', "%20")
        );
        let reply = server.get(&url).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        // The badge's centre shows the photo.
        assert_eq!(
            decode_png(&reply.body).at(112, 542),
            [200, 120, 40, 255],
            "{title}"
        );
    }
    let after = hits(server.get("/metrics").await.text());
    assert!(
        after > before,
        "the second card took the kept avatar ({before} -> {after})"
    );
    server.stop().await;
}

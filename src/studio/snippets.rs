//! Copy-ready snippets for the card the studio's form describes: its URL (signed when the
//! server signs), an `<img>` tag, the Open Graph and Twitter meta tags, the `vellum render`
//! command line and the `POST /render` curl call. Built here rather than in the page, so
//! that the signing key never reaches the browser.

use crate::format::Format;
use crate::signing::Signer;

/// The card the snippets describe.
pub struct Card<'a> {
    /// Scheme and host the URLs start with (`http://127.0.0.1:3000`).
    pub origin: &'a str,
    /// Template name.
    pub template: &'a str,
    /// The template's version, carried as `v=` so that caches may keep the image for good.
    pub version: &'a str,
    /// Output format.
    pub format: Format,
    /// The form's values and options, in the order given.
    pub pairs: &'a [(String, String)],
    /// Output width and height in pixels.
    pub size: (u64, u64),
}

/// Every snippet, as the page shows them.
#[derive(Debug, serde::Serialize)]
pub struct Snippets {
    /// The image URL.
    pub url: String,
    /// An `<img>` tag with width, height and an empty alt to fill in.
    pub img: String,
    /// `og:image` with its width and height, and the Twitter large-card tags.
    pub meta: String,
    /// The same card from the command line.
    pub cli: String,
    /// The same card from `POST /render`, answering its URL as JSON.
    pub curl: String,
}

impl Card<'_> {
    /// The snippets for this card; the URL is signed with `signer`'s key when it has one.
    pub fn snippets(&self, signer: &Signer) -> Snippets {
        let mut pairs: Vec<(&str, &str)> = self
            .pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        pairs.push((crate::manifest::VERSION_KEY, self.version));
        let query = serde_urlencoded::to_string(pairs).expect("string pairs serialise");
        let ext = self.format.extension();
        let path = format!("/og/{}.{ext}?{query}", self.template);
        let path = signer.sign(&path).unwrap_or(path);
        let url = format!("{}{path}", self.origin);
        let (width, height) = self.size;
        let html_url = html_escape(&url);
        let img = format!(r#"<img src="{html_url}" width="{width}" height="{height}" alt="">"#);
        let meta = [
            format!(r#"<meta property="og:image" content="{html_url}">"#),
            format!(r#"<meta property="og:image:width" content="{width}">"#),
            format!(r#"<meta property="og:image:height" content="{height}">"#),
            r#"<meta name="twitter:card" content="summary_large_image">"#.to_string(),
            format!(r#"<meta name="twitter:image" content="{html_url}">"#),
        ]
        .join("\n");
        let mut cli = format!("vellum render {}", shell_quote(self.template));
        for (key, value) in self.pairs {
            cli.push(' ');
            cli.push_str(&shell_quote(&format!("{key}={value}")));
        }
        cli.push_str(&format!(
            " -o {}",
            shell_quote(&format!("{}.{ext}", self.template))
        ));
        let params: serde_json::Map<String, serde_json::Value> = self
            .pairs
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        let body = serde_json::json!({
            "template": self.template,
            "format": ext,
            "params": params,
        });
        let mut curl = format!(
            "curl {}/render \\\n  -H 'Content-Type: application/json' -H 'Accept: application/json' \\\n",
            self.origin
        );
        if signer.enabled() {
            curl.push_str("  -H \"Authorization: Bearer $VELLUM_SIGNING_KEY\" \\\n");
        }
        curl.push_str(&format!("  -d {}", shell_quote(&body.to_string())));
        Snippets {
            url,
            img,
            meta,
            cli,
            curl,
        }
    }
}

/// `text` safe inside a double-quoted HTML attribute.
fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `text` as one POSIX shell word: bare when it holds only safe characters, else in single
/// quotes (a quote inside written as `'\''`).
fn shell_quote(text: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c);
    if !text.is_empty() && text.chars().all(safe) {
        return text.to_string();
    }
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card<'a>(pairs: &'a [(String, String)]) -> Card<'a> {
        Card {
            origin: "http://127.0.0.1:3000",
            template: "post",
            version: "0123456789",
            format: Format::Png,
            pairs,
            size: (1200, 630),
        }
    }

    #[test]
    fn snippets_quote_for_their_language() {
        let pairs = [
            (
                "title".to_string(),
                "Tom's \"best\" <card> & more".to_string(),
            ),
            ("theme".to_string(), "dark".to_string()),
        ];
        let s = card(&pairs).snippets(&Signer::default());
        let query = "title=Tom%27s+%22best%22+%3Ccard%3E+%26+more&theme=dark&v=0123456789";
        assert_eq!(s.url, format!("http://127.0.0.1:3000/og/post.png?{query}"));
        assert_eq!(
            s.img,
            format!(
                r#"<img src="http://127.0.0.1:3000/og/post.png?{}" width="1200" height="630" alt="">"#,
                query.replace('&', "&amp;")
            )
        );
        assert!(
            s.meta
                .contains(r#"<meta property="og:image:width" content="1200">"#)
        );
        assert_eq!(
            s.cli,
            r#"vellum render post 'title=Tom'\''s "best" <card> & more' theme=dark -o post.png"#
        );
        assert!(
            s.curl.ends_with(
                r#"-d '{"format":"png","params":{"theme":"dark","title":"Tom'\''s \"best\" <card> & more"},"template":"post"}'"#
            ),
            "{}",
            s.curl
        );
        assert!(!s.curl.contains("Authorization"));
    }

    #[test]
    fn a_signing_server_signs_the_url_and_asks_curl_for_the_key() {
        let pairs = [("title".to_string(), "Hi".to_string())];
        let signer = Signer::new(vec![b"k1".to_vec()]);
        let s = card(&pairs).snippets(&signer);
        let signed = signer.sign("/og/post.png?title=Hi&v=0123456789").unwrap();
        assert_eq!(s.url, format!("http://127.0.0.1:3000{signed}"));
        assert!(s.url.contains("sig="), "{}", s.url);
        assert!(s.curl.contains("Authorization: Bearer $VELLUM_SIGNING_KEY"));
        assert!(!s.curl.contains("k1"), "the key itself never appears");
    }
}

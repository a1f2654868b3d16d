//! The integration suite: one binary, starting the real server on 127.0.0.1:0.

mod support;

mod adversarial;
mod architecture;
mod assets;
mod batch;
mod cli;
mod fetch;
mod fonts;
mod found_backgrounds;
mod fuzz;
mod golden;
mod http;
mod injection;
mod known_hits;
mod layered;
mod layers;
mod local_images;
mod openapi;
mod pdf;
mod post;
mod scripts;
mod signing;
mod sizes;
mod studio;
mod studio_browser;
mod text_fields;
mod text_ways;
mod upstream;
mod versions;

//! Dockerfiles: the final stage's USER, base image tags, ADD of URLs, apt-get
//! hygiene. No HEALTHCHECK is not a finding: Kubernetes probes replace it.

use super::{Render, Sink};
use crate::lint::dockerfile::{Dockerfile, is_root};

pub fn check(render: &Render, sink: &mut Sink<'_>) {
    for file in &render.dockerfiles {
        check_file(file, sink);
    }
}

fn check_file(file: &Dockerfile, sink: &mut Sink<'_>) {
    match file.final_user() {
        None => {
            let last = file.stages.last().map_or(1, |s| s.line);
            sink.file(
                "dockerfile-root-user",
                &file.file,
                last,
                "the final stage sets no USER: the container runs as the base image's user (root for most)".into(),
            );
        }
        Some((instruction, user)) if is_root(user) => {
            sink.file("dockerfile-root-user", &file.file, instruction.line, format!("the final stage runs as USER {user}"));
        }
        Some(_) => {}
    }
    for stage in &file.stages {
        if let Some(problem) = base_image_problem(file, &stage.image) {
            sink.file("dockerfile-image-tag", &file.file, stage.line, format!("base image {:?} {problem}", stage.image));
        }
        for instruction in &stage.instructions {
            match instruction.keyword.as_str() {
                "ADD" => {
                    let (_, words) = instruction.flags_and_words();
                    let sources = &words[..words.len().saturating_sub(1)];
                    for url in sources.iter().filter(|s| s.starts_with("http://") || s.starts_with("https://")) {
                        let checksum = instruction.args.contains("--checksum");
                        if !checksum {
                            sink.file("dockerfile-add-url", &file.file, instruction.line, format!("ADD downloads {url} without a checksum"));
                        }
                    }
                }
                "RUN" if instruction.args.contains("apt-get") && instruction.args.contains("install") => {
                    let mut missing = Vec::new();
                    if !instruction.args.contains("--no-install-recommends") {
                        missing.push("--no-install-recommends");
                    }
                    if !instruction.args.contains("/var/lib/apt/lists") {
                        missing.push("a cleanup of /var/lib/apt/lists");
                    }
                    if !missing.is_empty() {
                        sink.file("dockerfile-apt-get", &file.file, instruction.line, format!("apt-get install without {}", missing.join(" and ")));
                    }
                }
                _ => {}
            }
        }
    }
}

/// Why a FROM image is not pinned; earlier stages, `scratch` and `${ARG}`s whose default is pinned are fine.
fn base_image_problem(file: &Dockerfile, image: &str) -> Option<&'static str> {
    if image == "scratch" || file.stage_named(image).is_some() {
        return None;
    }
    if let Some(arg) = image.strip_prefix("${").and_then(|i| i.split([':', '}']).next()).or_else(|| image.strip_prefix('$')) {
        // `FROM ${BASE}`: judged by the ARG's default, if it has one.
        let default = file.global_args.iter().flat_map(crate::lint::dockerfile::assignments).find(|(name, _)| name == arg).map(|(_, v)| v);
        return match default {
            Some(value) if !value.is_empty() && value != image => base_image_problem(file, &value),
            _ => None,
        };
    }
    crate::lint::rules::reliability::image_problem(image)
}

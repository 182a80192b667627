//! Secret hygiene: credentials in literal env values, ConfigMaps, Secrets
//! committed to git, Dockerfile ENV/ARG; key files copied into images; a whole
//! build context copied without a .dockerignore. What looks like a credential is
//! [`crate::redact::credential`]'s to say; findings name the place, never the value.

use std::path::Path;

use base64::Engine;

use super::{Render, Sink, containers};
use crate::redact::{MIN_SECRET_LENGTH, credential, placeholder};
use crate::stack::verify::hygiene::not_secret;

pub fn check(render: &Render, sink: &mut Sink<'_>) {
    for object in &render.objects {
        for c in containers(object) {
            for (i, env) in c.value["env"].as_array().into_iter().flatten().enumerate() {
                let (Some(name), Some(value)) = (env["name"].as_str(), env["value"].as_str()) else { continue };
                if let Some(shape) = credential(name, value) {
                    sink.object(
                        "secret-in-env",
                        object,
                        &format!("{}.env[{i}].value", c.path),
                        Some(c.name),
                        format!("env {name} of container {} holds {shape} in plain text", c.name),
                    );
                }
            }
        }
        match object.kind() {
            "ConfigMap" => configmap(object, sink),
            "Secret" => committed_secret(object, sink),
            _ => {}
        }
    }
    for file in &render.dockerfiles {
        dockerfile(file, sink);
    }
}

fn configmap(object: &crate::render::Manifest, sink: &mut Sink<'_>) {
    for (key, value) in object.object["data"].as_object().into_iter().flatten() {
        let Some(value) = value.as_str() else { continue };
        let found = credential(key, value).map(|shape| (key.clone(), shape)).or_else(|| {
            // A config file in a key: its `name: value` and `NAME=value` lines.
            value.lines().find_map(|line| {
                let (k, v) = line.split_once([':', '=']).filter(|(k, _)| !k.trim().is_empty())?;
                let v = v.trim().trim_matches(['"', '\'']);
                credential(k.trim().trim_start_matches("- "), v).map(|shape| (format!("{key} ({})", k.trim()), shape))
            })
        });
        if let Some((place, shape)) = found {
            sink.object("secret-in-configmap", object, &format!("data.{key}"), None, format!("ConfigMap key {place} holds {shape}"));
        }
    }
}

fn committed_secret(object: &crate::render::Manifest, sink: &mut Sink<'_>) {
    let Some(origin) = &object.origin else { return };
    // Made by a kustomize secretGenerator: its values come from files or literals the
    // kustomization names, which this cannot tell apart.
    if crate::render::located::KUSTOMIZATION_FILES.iter().any(|k| origin.file.ends_with(k)) {
        return;
    }
    let engine = base64::engine::general_purpose::STANDARD;
    let mut real: Vec<String> = Vec::new();
    for field in ["data", "stringData"] {
        for (key, value) in object.object[field].as_object().into_iter().flatten() {
            let text = value.as_str().unwrap_or_default();
            let decoded =
                if field == "data" { engine.decode(text.trim()).ok().and_then(|b| String::from_utf8(b).ok()).unwrap_or_default() } else { text.to_string() };
            if !not_secret(key) && !placeholder(&decoded) && decoded.trim().chars().count() >= MIN_SECRET_LENGTH {
                real.push(format!("{field}.{key}"));
            }
        }
    }
    if real.is_empty() || git_ignored(Path::new(&origin.file)) {
        return;
    }
    let field = real[0].clone();
    sink.object(
        "secret-committed",
        object,
        &field,
        None,
        format!("Secret holds real-looking values ({}) in {}, which git does not ignore", real.join(", "), origin.file),
    );
}

/// Whether git ignores `file` (false outside a repository or without git).
fn git_ignored(file: &Path) -> bool {
    let Some(git) = crate::render::which("git") else { return false };
    let dir = file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::process::Command::new(git)
        .arg("-C")
        .arg(dir)
        .args(["check-ignore", "-q", "--"])
        .arg(file.file_name().unwrap_or_default())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// File names that hold keys or environment secrets.
fn secret_file(path: &str) -> bool {
    let name = path.trim_end_matches('/').rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    name == ".env"
        || (name.starts_with(".env.") && !name.ends_with(".example") && !name.ends_with(".sample"))
        || name.starts_with("id_rsa")
        || name.starts_with("id_ed25519")
        || name.starts_with("id_ecdsa")
        || [".pem", ".key", ".p12", ".pfx", ".jks"].iter().any(|ext| name.ends_with(ext))
        || matches!(name.as_str(), ".npmrc" | ".pypirc" | ".netrc" | "credentials" | "credentials.json" | ".aws" | ".ssh" | ".git-credentials")
}

fn dockerfile(file: &crate::lint::dockerfile::Dockerfile, sink: &mut Sink<'_>) {
    let ignore = file.context.join(".dockerignore").is_file()
        || Path::new(&file.file).file_name().is_some_and(|n| file.context.join(format!("{}.dockerignore", n.to_string_lossy())).is_file());
    let mut whole_context_reported = false;
    for instruction in file.global_args.iter().chain(file.stages.iter().flat_map(|s| s.instructions.iter())) {
        match instruction.keyword.as_str() {
            "ENV" | "ARG" => {
                for (name, value) in crate::lint::dockerfile::assignments(instruction) {
                    if let Some(shape) = credential(&name, &value) {
                        sink.file("dockerfile-secret", &file.file, instruction.line, format!("{} {name} holds {shape}", instruction.keyword));
                    }
                }
            }
            "COPY" | "ADD" => {
                let (flags, words) = instruction.flags_and_words();
                if flags.iter().any(|f| f.starts_with("--from")) || words.len() < 2 {
                    continue;
                }
                let sources = &words[..words.len() - 1];
                let secret: Vec<&str> = sources.iter().filter(|s| !s.contains("://") && secret_file(s)).map(String::as_str).collect();
                if !secret.is_empty() {
                    let listed = secret.join(", ");
                    sink.file("dockerfile-copies-secrets", &file.file, instruction.line, format!("{} copies {listed} into the image", instruction.keyword));
                }
                let whole = sources.iter().any(|s| matches!(s.as_str(), "." | "./" | "*" | "./*"));
                if whole && !ignore && !whole_context_reported {
                    whole_context_reported = true;
                    sink.file(
                        "dockerignore-missing",
                        &file.file,
                        instruction.line,
                        format!("{} copies the whole build context, which has no .dockerignore", instruction.keyword),
                    );
                }
            }
            _ => {}
        }
    }
}

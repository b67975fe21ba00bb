//! The routes the code registers and the paths openapi.yaml describes are the same set,
//! and every documented operation is really routed.

use std::collections::BTreeSet;

use awc::http::Method;

use crate::helpers::*;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// (METHOD, path) pairs under `paths:` in openapi.yaml.
fn documented() -> BTreeSet<(String, String)> {
    operations().into_iter().map(|op| (op.method, op.path)).collect()
}

/// (METHOD, path) pairs registered in src/api/mod.rs.
fn registered() -> BTreeSet<(String, String)> {
    let source = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/api/mod.rs")).unwrap();
    let routes = &source[source.find("pub fn routes").unwrap()..source.find("/// A resource whose").unwrap()];
    let mut operations = BTreeSet::new();
    for chunk in routes.split("resource(\"").skip(1) {
        let path = chunk.split('"').next().unwrap().to_string();
        for method in METHODS {
            if chunk.contains(&format!(".route({method}()")) {
                operations.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    operations
}

#[test]
fn every_route_is_in_the_contract_and_the_reverse() {
    let (documented, registered) = (documented(), registered());
    assert!(registered.len() > 20, "{registered:?}");
    let undocumented: Vec<_> = registered.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&registered).collect();
    assert!(undocumented.is_empty() && unrouted.is_empty(), "routes missing from openapi.yaml: {undocumented:?}; documented but not routed: {unrouted:?}");
}

#[actix_rt::test]
async fn every_documented_operation_is_routed_and_others_are_405() {
    let app = spawn_app().await;
    let operations = documented();
    let paths: BTreeSet<&String> = operations.iter().map(|(_, p)| p).collect();
    for path in paths {
        let concrete = path.replace("{id}", &uuid::Uuid::now_v7().to_string());
        for method in METHODS {
            let method = method.to_uppercase();
            let response = app.request(Method::from_bytes(method.as_bytes()).unwrap(), &concrete, None, None, &[]).await;
            if operations.contains(&(method.clone(), path.clone())) {
                assert!(![404, 405].contains(&response.status), "{method} {path} is documented but answered {}", response.status);
            } else {
                assert_eq!(response.status, 405, "{method} {path} is not documented but answered {}", response.status);
            }
        }
    }
}

#[actix_rt::test]
async fn the_contract_is_served() {
    let app = spawn_app().await;
    let spec = app.request(Method::GET, "/openapi.yaml", None, None, &[]).await;
    assert_eq!(spec.status, 200);
    assert!(spec.content_type().starts_with("application/yaml"));
    assert!(spec.text.starts_with("openapi: 3.1"));
    assert_eq!(spec.text, onset::api::health::OPENAPI);
}

/// A rating's `severity` is free text in the contract: a clinic's own instrument names its
/// bands (DESIGN.md §9), so no enum could list them, and a generated client holding one
/// would refuse the answer.
#[test]
fn severity_is_free_text_in_the_contract() {
    let spec = include_str!("../../openapi.yaml");
    let at = spec.find("        severity:\n").expect("AssessmentFields.severity");
    let block: Vec<&str> = spec[at..].lines().skip(1).take_while(|l| l.starts_with("          ")).collect();
    assert!(block.iter().all(|l| !l.trim_start().starts_with("enum:")), "{block:?}");
}

/// An operation that takes a `cursor` says its answer may carry the next one, and an
/// answer that may carry one belongs to an operation that takes it back: a list whose
/// `next_cursor` the contract pins to null while the code pages it broke schemathesis's
/// response check (`GET /api/v1/rems/pending?limit=1`).
#[test]
fn a_paged_list_says_so_in_its_answer_and_only_a_paged_one_does() {
    let spec = onset::api::health::OPENAPI;
    let mut checked = 0;
    for op in operations() {
        let (operation, block) = (format!("{} {}", op.method, op.path), op.text);
        let pages = block.contains("#/components/parameters/Cursor'");
        let Some(next_cursor) = next_cursor_of(spec, &block) else {
            assert!(!pages, "{operation} takes a cursor but its answer has no next_cursor");
            continue;
        };
        let may_carry_one = next_cursor.contains("#/components/schemas/NextCursor'");
        assert_eq!(pages, may_carry_one, "{operation}: cursor parameter {pages}, but next_cursor is `{}`", next_cursor.trim());
        checked += 1;
    }
    assert!(checked > 20, "only {checked} lists found: the parser has lost its way in openapi.yaml");
}

/// The `next_cursor` line of an operation's 200 answer, inline or in the schema it names.
fn next_cursor_of(spec: &str, block: &str) -> Option<String> {
    let answer = &block[block.find("'200':")?..];
    let answer = &answer[..answer[1..].find("\n        '").map_or(answer.len(), |end| end + 1)];
    if let Some(at) = answer.find("next_cursor:") {
        return answer[at..].lines().next().map(str::to_string);
    }
    let name = answer.split("$ref: '#/components/schemas/").nth(1)?.split('\'').next()?;
    let schemas = &spec[spec.find("\ncomponents:")?..];
    let schema = &schemas[schemas.find(&format!("\n    {name}:\n"))? + 1..];
    schema.lines().skip(1).take_while(|l| l.starts_with("      ")).find(|l| l.trim_start().starts_with("next_cursor:")).map(str::to_string)
}

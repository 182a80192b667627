//! The tasks a run needs: those named and, first, their `pre` tasks — each once,
//! in dependency order. Cycles are refused with the cycle spelled out. The
//! scheduler starts a task when its `pre` tasks have succeeded, up to `jobs` at once.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use futures::stream::{FuturesUnordered, StreamExt};

use crate::error::{Error, Result};

/// The tasks of a run.
#[derive(Debug)]
pub struct Graph {
    /// Each task after its `pre` tasks.
    pub ordered: Vec<String>,
    /// Each task's `pre` list.
    pub pre: BTreeMap<String, Vec<String>>,
}

/// The run's tasks; `pre_of` gives a task's `pre` (an unknown task is an error).
pub fn order(roots: &[String], pre_of: &dyn Fn(&str) -> Result<Vec<String>>) -> Result<Graph> {
    let mut ordered = Vec::new();
    let mut pre = BTreeMap::new();
    let mut path = Vec::new();
    for root in roots {
        visit(root, pre_of, &mut path, &mut ordered, &mut pre)?;
    }
    Ok(Graph { ordered, pre })
}

fn visit(
    name: &str,
    pre_of: &dyn Fn(&str) -> Result<Vec<String>>,
    path: &mut Vec<String>,
    ordered: &mut Vec<String>,
    pre: &mut BTreeMap<String, Vec<String>>,
) -> Result<()> {
    if let Some(at) = path.iter().position(|p| p == name) {
        let cycle: Vec<&str> = path[at..].iter().map(String::as_str).chain([name]).collect();
        return Err(Error::usage(format!("the tasks' pre lists form a cycle: {}", cycle.join(" -> "))).hint("remove one of these pre entries"));
    }
    if pre.contains_key(name) {
        return Ok(());
    }
    let needs = pre_of(name)?;
    path.push(name.to_string());
    for dependency in &needs {
        visit(dependency, pre_of, path, ordered, pre)?;
    }
    path.pop();
    pre.insert(name.to_string(), needs);
    ordered.push(name.to_string());
    Ok(())
}

/// How a task of the run ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Succeeded,
    Failed(Error),
    /// Not started: a `pre` task failed, or the run stopped at the first failure.
    Skipped,
}

/// Runs the tasks in `ordered` (see [`order`]) with at most `jobs` at once. After a
/// failure no new task starts unless `keep_going`; then only tasks whose `pre`
/// tasks all succeeded start. Running tasks are always let finish.
pub async fn schedule<F, Fut>(ordered: &[String], pre: &BTreeMap<String, Vec<String>>, jobs: usize, keep_going: bool, run: F) -> BTreeMap<String, Outcome>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let mut outcomes: BTreeMap<String, Outcome> = BTreeMap::new();
    let mut started: BTreeSet<String> = BTreeSet::new();
    let mut running = FuturesUnordered::new();
    let mut stopped = false;
    loop {
        if !stopped {
            for name in ordered {
                if running.len() >= jobs.max(1) {
                    break;
                }
                if started.contains(name) {
                    continue;
                }
                let needs = pre.get(name).map(Vec::as_slice).unwrap_or_default();
                if needs.iter().any(|n| matches!(outcomes.get(n), Some(Outcome::Failed(..) | Outcome::Skipped))) {
                    started.insert(name.clone());
                    outcomes.insert(name.clone(), Outcome::Skipped);
                    continue;
                }
                if needs.iter().all(|n| outcomes.get(n) == Some(&Outcome::Succeeded)) {
                    started.insert(name.clone());
                    let task = name.clone();
                    let future = run(task.clone());
                    running.push(async move { (task, future.await) });
                }
            }
        }
        let Some((name, result)) = running.next().await else { break };
        let outcome = match result {
            Ok(()) => Outcome::Succeeded,
            Err(e) => {
                stopped |= !keep_going;
                Outcome::Failed(e)
            }
        };
        outcomes.insert(name, outcome);
    }
    for name in ordered {
        outcomes.entry(name.clone()).or_insert(Outcome::Skipped);
    }
    outcomes
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    fn graph<'a>(edges: &'a [(&'a str, &'a [&'a str])]) -> impl Fn(&str) -> Result<Vec<String>> + 'a {
        move |name: &str| {
            edges
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, pre)| pre.iter().map(|s| s.to_string()).collect())
                .ok_or_else(|| Error::usage(format!("unknown task {name}")))
        }
    }

    #[test]
    fn pre_tasks_come_first_and_once() {
        let edges: &[(&str, &[&str])] = &[("deploy", &["build", "test"]), ("test", &["build"]), ("build", &[])];
        assert_eq!(order(&["deploy".into()], &graph(edges)).unwrap().ordered, ["build", "test", "deploy"]);
    }

    #[test]
    fn cycles_are_spelled_out() {
        let edges: &[(&str, &[&str])] = &[("a", &["b"]), ("b", &["c"]), ("c", &["a"])];
        let err = order(&["a".into()], &graph(edges)).unwrap_err();
        assert!(err.message.contains("a -> b -> c -> a"), "{}", err.message);
        let err = order(&["x".into()], &graph(&[("x", &["x"])])).unwrap_err();
        assert!(err.message.contains("x -> x"), "{}", err.message);
    }

    fn run_all(
        edges: &[(&str, &[&str])],
        roots: &[&str],
        jobs: usize,
        keep_going: bool,
        failing: &'static [&'static str],
    ) -> (Vec<String>, BTreeMap<String, Outcome>, usize) {
        let roots: Vec<String> = roots.iter().map(|s| s.to_string()).collect();
        let Graph { ordered, pre } = order(&roots, &graph(edges)).unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let active = Arc::new(Mutex::new((0usize, 0usize)));
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let outcomes = rt.block_on(schedule(&ordered, &pre, jobs, keep_going, |name| {
            let (log, active) = (log.clone(), active.clone());
            async move {
                {
                    let mut a = active.lock().unwrap();
                    a.0 += 1;
                    a.1 = a.1.max(a.0);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
                active.lock().unwrap().0 -= 1;
                log.lock().unwrap().push(name.clone());
                if failing.contains(&name.as_str()) { Err(Error::failure(format!("{name} failed"))) } else { Ok(()) }
            }
        }));
        let peak = active.lock().unwrap().1;
        (log.lock().unwrap().clone(), outcomes, peak)
    }

    #[test]
    fn independent_tasks_run_in_parallel_up_to_jobs() {
        let edges: &[(&str, &[&str])] = &[("all", &["a", "b", "c"]), ("a", &[]), ("b", &[]), ("c", &[])];
        let (log, _, peak) = run_all(edges, &["all"], 2, false, &[]);
        assert_eq!(peak, 2);
        assert_eq!(log.last().unwrap(), "all");
        let (_, _, peak) = run_all(edges, &["all"], 1, false, &[]);
        assert_eq!(peak, 1);
    }

    #[test]
    fn the_first_failure_stops_the_rest_unless_keep_going() {
        let edges: &[(&str, &[&str])] = &[("all", &["a", "b"]), ("a", &[]), ("b", &[])];
        let (log, outcomes, _) = run_all(edges, &["all"], 1, false, &["a"]);
        assert_eq!(log, ["a"]);
        assert_eq!((&outcomes["b"], &outcomes["all"]), (&Outcome::Skipped, &Outcome::Skipped));
        let (log, outcomes, _) = run_all(edges, &["all"], 1, true, &["a"]);
        assert_eq!(log, ["a", "b"]);
        assert_eq!((&outcomes["b"], &outcomes["all"]), (&Outcome::Succeeded, &Outcome::Skipped));
    }
}

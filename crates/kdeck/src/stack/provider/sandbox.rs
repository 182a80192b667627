//! The kdeck sandbox as a stack's cluster: started detached (with
//! `--run-commands`) or reused, deleted keeping its claims' data on request.

use std::time::Duration;

use super::{Ensured, Target};
use crate::error::Result;
use crate::project::stack::StackCluster;
use crate::sandboxes;

pub(super) async fn ensure(cluster: &StackCluster, target: &mut Target) -> Result<Ensured> {
    let previous = sandboxes::load(&target.name)?;
    if let Some(record) = &previous
        && record.is_running()
    {
        if !record.run_commands {
            eprintln!(
                "note: sandbox {:?} runs without --run-commands: pods that opt in to running their command stay simulated (restart it: kdeck sandbox stop --name {0} && kdeck up)",
                target.name
            );
        }
        target.ingress = Some(record.ingress.clone()).filter(|i| !i.is_empty());
        return Ok(Ensured::Running);
    }
    let options = sandboxes::StartOptions {
        name: target.name.clone(),
        port: 0,
        data_dir: match &previous {
            Some(r) => r.data_dir.clone(),
            None => sandboxes::default_data_dir(&target.name)?,
        },
        kubeconfig: crate::cluster::kubeconfig::default_path()?,
        seed: None,
        nodes: 1,
        faults: None,
        run_commands: true,
        metrics: true,
        ingress_port: cluster.ingress_port,
        history: kdeck_sandbox::store::HISTORY_LEN,
    };
    let record = sandboxes::spawn_detached(&options, Duration::from_secs(60)).await?;
    target.ingress = Some(record.ingress.clone()).filter(|i| !i.is_empty());
    Ok(if previous.is_some() { Ensured::Started } else { Ensured::Created })
}

pub(super) async fn delete(target: &Target, keep_data: bool) -> Result<String> {
    let Some(mut record) = sandboxes::load(&target.name)? else {
        return Ok(format!("sandbox {:?} does not exist", target.name));
    };
    sandboxes::stop(&mut record).await?;
    sandboxes::delete_with(&record, keep_data)?;
    Ok(if keep_data {
        format!("sandbox {:?} deleted; its volumes' data is kept for the next `kdeck up`", target.name)
    } else {
        format!("sandbox {:?} deleted with its data", target.name)
    })
}

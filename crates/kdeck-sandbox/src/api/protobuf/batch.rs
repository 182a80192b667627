//! batch/v1 tables (k8s.io/api/batch/v1/generated.proto): Job, CronJob.

use super::core_v1::OBJECT_REFERENCE;
use super::meta::{LABEL_SELECTOR, OBJECT_META};
use super::pod::POD_TEMPLATE_SPEC;
use super::schema::Ty::{Bool, I32, I64, Str, Time};
use super::schema::{Msg, f, keep, m, rep};

pub(super) static JOB: Msg = Msg::new("batch/v1 Job", &[f(1, "metadata", m(&OBJECT_META)), f(2, "spec", m(&JOB_SPEC)), f(3, "status", m(&JOB_STATUS))]);

static JOB_SPEC: Msg = Msg::new(
    "batch/v1 JobSpec",
    &[
        keep(1, "parallelism", I32),
        keep(2, "completions", I32),
        keep(3, "activeDeadlineSeconds", I64),
        f(11, "podFailurePolicy", m(&POD_FAILURE_POLICY)),
        f(16, "successPolicy", m(&SUCCESS_POLICY)),
        keep(7, "backoffLimit", I32),
        keep(12, "backoffLimitPerIndex", I32),
        keep(13, "maxFailedIndexes", I32),
        f(4, "selector", m(&LABEL_SELECTOR)),
        keep(5, "manualSelector", Bool),
        f(6, "template", m(&POD_TEMPLATE_SPEC)),
        keep(8, "ttlSecondsAfterFinished", I32),
        keep(9, "completionMode", Str),
        keep(10, "suspend", Bool),
        keep(14, "podReplacementPolicy", Str),
        keep(15, "managedBy", Str),
    ],
);

static POD_FAILURE_POLICY: Msg = Msg::new("batch/v1 PodFailurePolicy", &[rep(1, "rules", m(&POD_FAILURE_POLICY_RULE))]);

static POD_FAILURE_POLICY_RULE: Msg = Msg::new(
    "batch/v1 PodFailurePolicyRule",
    &[keep(1, "action", Str), f(2, "onExitCodes", m(&POD_FAILURE_POLICY_ON_EXIT_CODES)), rep(3, "onPodConditions", m(&POD_FAILURE_POLICY_ON_POD_CONDITIONS))],
);

static POD_FAILURE_POLICY_ON_EXIT_CODES: Msg =
    Msg::new("batch/v1 PodFailurePolicyOnExitCodesRequirement", &[keep(1, "containerName", Str), keep(2, "operator", Str), rep(3, "values", I32)]);

static POD_FAILURE_POLICY_ON_POD_CONDITIONS: Msg = Msg::new("batch/v1 PodFailurePolicyOnPodConditionsPattern", &[keep(1, "type", Str), keep(2, "status", Str)]);

static SUCCESS_POLICY: Msg = Msg::new("batch/v1 SuccessPolicy", &[rep(1, "rules", m(&SUCCESS_POLICY_RULE))]);

static SUCCESS_POLICY_RULE: Msg = Msg::new("batch/v1 SuccessPolicyRule", &[keep(1, "succeededIndexes", Str), keep(2, "succeededCount", I32)]);

static JOB_STATUS: Msg = Msg::new(
    "batch/v1 JobStatus",
    &[
        rep(1, "conditions", m(&JOB_CONDITION)),
        f(2, "startTime", Time),
        f(3, "completionTime", Time),
        f(4, "active", I32),
        f(5, "succeeded", I32),
        f(6, "failed", I32),
        keep(11, "terminating", I32),
        f(7, "completedIndexes", Str),
        keep(10, "failedIndexes", Str),
        f(8, "uncountedTerminatedPods", m(&UNCOUNTED_TERMINATED_PODS)),
        keep(9, "ready", I32),
    ],
);

static JOB_CONDITION: Msg = Msg::new(
    "batch/v1 JobCondition",
    &[keep(1, "type", Str), keep(2, "status", Str), f(3, "lastProbeTime", Time), f(4, "lastTransitionTime", Time), f(5, "reason", Str), f(6, "message", Str)],
);

static UNCOUNTED_TERMINATED_PODS: Msg = Msg::new("batch/v1 UncountedTerminatedPods", &[rep(1, "succeeded", Str), rep(2, "failed", Str)]);

pub(super) static CRON_JOB: Msg =
    Msg::new("batch/v1 CronJob", &[f(1, "metadata", m(&OBJECT_META)), f(2, "spec", m(&CRON_JOB_SPEC)), f(3, "status", m(&CRON_JOB_STATUS))]);

static CRON_JOB_SPEC: Msg = Msg::new(
    "batch/v1 CronJobSpec",
    &[
        keep(1, "schedule", Str),
        keep(8, "timeZone", Str),
        keep(2, "startingDeadlineSeconds", I64),
        f(3, "concurrencyPolicy", Str),
        keep(4, "suspend", Bool),
        f(5, "jobTemplate", m(&JOB_TEMPLATE_SPEC)),
        keep(6, "successfulJobsHistoryLimit", I32),
        keep(7, "failedJobsHistoryLimit", I32),
    ],
);

static JOB_TEMPLATE_SPEC: Msg = Msg::new("batch/v1 JobTemplateSpec", &[f(1, "metadata", m(&OBJECT_META)), f(2, "spec", m(&JOB_SPEC))]);

static CRON_JOB_STATUS: Msg =
    Msg::new("batch/v1 CronJobStatus", &[rep(1, "active", m(&OBJECT_REFERENCE)), f(4, "lastScheduleTime", Time), f(5, "lastSuccessfulTime", Time)]);

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_encoder::*;

    #[test]
    fn job_and_cron_job() {
        let job_spec = Pb::new()
            .int(7, 0)
            .msg(6, Pb::new().msg(1, go_meta("", "")).msg(2, go_pod_spec(vec![go_container("pi", "perl").string(3, "perl")]).string(3, "Never")))
            .int(8, 100);
        let job = decode_ok(&body(
            "batch/v1",
            "Job",
            Pb::new().msg(1, go_meta("pi", "default")).msg(2, job_spec.clone()).msg(3, Pb::new().int(4, 0).int(5, 0).int(6, 0).string(7, "")),
        ));
        assert_eq!(job["spec"]["backoffLimit"], json!(0));
        assert_eq!(job["spec"]["ttlSecondsAfterFinished"], json!(100));
        assert_eq!(job["spec"]["template"]["spec"]["restartPolicy"], json!("Never"));
        assert_eq!(job["spec"]["template"]["spec"]["containers"][0]["command"], json!(["perl"]));
        assert_eq!(job["status"], json!({}));

        let cron = decode_ok(&body(
            "batch/v1",
            "CronJob",
            Pb::new().msg(1, go_meta("nightly", "default")).msg(
                2,
                Pb::new().string(1, "0 3 * * *").string(3, "").boolean(4, false).msg(5, Pb::new().msg(1, go_meta("nightly", "")).msg(2, job_spec)).int(6, 0),
            ),
        ));
        assert_eq!(cron["spec"]["schedule"], json!("0 3 * * *"));
        assert_eq!(cron["spec"]["suspend"], json!(false));
        assert_eq!(cron["spec"]["successfulJobsHistoryLimit"], json!(0));
        assert!(cron["spec"].get("concurrencyPolicy").is_none());
        assert_eq!(cron["spec"]["jobTemplate"]["metadata"], json!({"name": "nightly", "creationTimestamp": null}));
    }
}

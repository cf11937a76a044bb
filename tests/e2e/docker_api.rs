//! The container path's own footing: the Docker engine and testcontainers' client (bollard,
//! pinned in Cargo.lock) still understand each other. bollard declares a newer API than Debian's
//! engine speaks and works only because its requests carry no version prefix; this fails, saying
//! what to do, the day an update or another engine breaks that.

use crate::helpers::{ADVICE, ApiVersion, StackKind, engine_answers, engine_report, stack_kind};

#[tokio::test]
async fn the_docker_engine_and_the_pinned_docker_client_understand_each_other() {
    if let Err(why) = engine_answers().await {
        // Nothing to hold to account; acceptable only when the tests use a stack that is not
        // containers (`just test-e2e` on a machine without Docker).
        assert_eq!(
            stack_kind().await,
            StackKind::FromEnvironment,
            "no Docker engine answers ({why}), yet the stack is containers"
        );
        return;
    }

    let report = engine_report().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !report.paths.is_empty(),
        "no request of the client was recorded: the check below would prove nothing.\n{ADVICE}"
    );
    let prefix = report
        .request_prefix()
        .unwrap_or_else(|e| panic!("{}", report.explain(&e)));

    assert!(
        report.engine_api >= ApiVersion::OLDEST_RUN,
        "{}",
        report.explain(&format!(
            "The engine speaks Docker API {}, older than {}, the oldest the e2e suite has run on: \
             upgrade the engine.",
            report.engine_api,
            ApiVersion::OLDEST_RUN
        ))
    );
    match prefix {
        // Unversioned: the engine reads every request as one of its own version, so that version
        // must be one the client's models describe.
        None => assert!(
            report.engine_api <= report.client_api,
            "{}",
            report.explain(&format!(
                "The engine speaks Docker API {}, newer than the {} bollard's models describe; its \
                 unversioned requests are read as {} requests.",
                report.engine_api, report.client_api, report.engine_api
            ))
        ),
        // Versioned (a bollard that stopped sending unversioned requests): the engine must accept
        // that version, which a 1.41 engine does not for 1.52.
        Some(asked) => assert!(
            report.engine_min_api <= asked && asked <= report.engine_api,
            "{}",
            report.explain(&format!(
                "The client now asks for Docker API {asked}, outside what the engine accepts ({} \
                 to {}).",
                report.engine_min_api, report.engine_api
            ))
        ),
    }
}

//! Getting the workspace image onto a machine: use it if present, pull it, or build it
//! from the devcontainer (planned with the real base image; every build streams its
//! context on `docker build -`'s stdin). Never prints.

use std::path::PathBuf;

use crate::devcontainer::up::ImageFacts;
use crate::remote::Executor;

use super::{Failure, Run};
use crate::deploy::build::{BuildDockerfile, ImageStep, STREAMED_DOCKERFILE, StreamedBuild};
use crate::deploy::container::image_facts;
use crate::deploy::events::Step;
use crate::deploy::source::archive::{self, Selection};

impl Run<'_> {
    pub(super) async fn ensure_image(
        &self,
        executor: &Executor,
        step: &ImageStep,
        subjects: &[String],
    ) -> Result<ImageFacts, Failure> {
        let image = step.image().to_string();
        let output = match step {
            ImageStep::Pull(_) => self.present_or_pulled(executor, &image, subjects).await?,
            ImageStep::Build { builds, .. } => {
                let inspect = ["docker", "image", "inspect", image.as_str()];
                let present = executor
                    .run(&inspect, None)
                    .await
                    .map_err(|e| self.fail(Step::PullImage, &e.into()))?;
                if present.success() {
                    present
                } else {
                    // Plan the build with the real base image: its user and metadata
                    // decide who Features install for and what the image's label holds.
                    let planned = match self.blueprint.base_image() {
                        Some(base) => {
                            let output = self.present_or_pulled(executor, &base, subjects).await?;
                            let facts =
                                image_facts(&output.stdout_text()).map_err(|reason| Failure {
                                    step: Step::PullImage,
                                    message: format!(
                                        "could not read `docker image inspect {base}`: {reason}"
                                    ),
                                })?;
                            match self.blueprint.image_step_on(&facts) {
                                Ok(ImageStep::Build { builds, .. }) => Some(builds),
                                Ok(ImageStep::Pull(_)) => None,
                                Err(e) => return Err(self.fail(Step::BuildImage, &e)),
                            }
                        }
                        None => None,
                    };
                    self.step(subjects, Step::BuildImage, Some(image.clone()));
                    for build in planned.as_ref().unwrap_or(builds) {
                        self.build(executor, build).await?;
                    }
                    executor
                        .run_checked(&inspect, None)
                        .await
                        .map_err(|e| self.fail(Step::PullImage, &e.into()))?
                }
            }
        };
        image_facts(&output.stdout_text()).map_err(|reason| Failure {
            step: Step::PullImage,
            message: format!("could not read `docker image inspect {image}`: {reason}"),
        })
    }

    /// `docker image inspect IMAGE` output, pulling the image first when it is missing.
    pub(super) async fn present_or_pulled(
        &self,
        executor: &Executor,
        image: &str,
        subjects: &[String],
    ) -> Result<crate::remote::Output, Failure> {
        let inspect = ["docker", "image", "inspect", image];
        let present = executor
            .run(&inspect, None)
            .await
            .map_err(|e| self.fail(Step::PullImage, &e.into()))?;
        if present.success() {
            return Ok(present);
        }
        self.step(subjects, Step::PullImage, Some(image.to_string()));
        let pulled = executor
            .run(&["docker", "pull", image], None)
            .await
            .map_err(|e| self.fail(Step::PullImage, &e.into()))?;
        if !pulled.success() {
            return Err(Failure {
                step: Step::PullImage,
                message: self.redactor.redact(&format!(
                    "image {image} is not on {} and could not be pulled: {}",
                    executor.label(),
                    pulled.stderr_text().trim()
                )),
            });
        }
        executor
            .run_checked(&inspect, None)
            .await
            .map_err(|e| self.fail(Step::PullImage, &e.into()))
    }

    /// One build: its context (folder, Feature files, Dockerfile) streams as a tar on the
    /// build's stdin, the same on this host and on a remote machine.
    pub(super) async fn build(
        &self,
        executor: &Executor,
        build: &StreamedBuild,
    ) -> Result<(), Failure> {
        let failure = |message: String| Failure {
            step: Step::BuildImage,
            message,
        };
        let dockerfile = match &build.dockerfile {
            BuildDockerfile::Generated(text) => text.clone(),
            BuildDockerfile::File(path) => tokio::fs::read_to_string(path)
                .await
                .map_err(|e| failure(format!("could not read {path}: {e}")))?,
        };
        let mut extra: Vec<(String, Vec<u8>)> = build
            .files
            .iter()
            .map(|(name, text)| (name.clone(), text.clone().into_bytes()))
            .collect();
        extra.push((STREAMED_DOCKERFILE.to_string(), dockerfile.into_bytes()));
        let (mut context, archiving) = archive::stream(Selection::BuildContext {
            folder: build.folder.as_ref().map(PathBuf::from),
            trees: build
                .trees
                .iter()
                .map(|(source, name)| (PathBuf::from(source), name.clone()))
                .collect(),
            extra,
        });
        let output = executor.run_reading(&build.argv, &mut context).await;
        drop(context);
        // An archive cut short explains a failed build better than the build's own error.
        match archiving.await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                return Err(failure(format!(
                    "could not send the build context ({}): {e}",
                    build.context_label()
                )));
            }
            Err(e) => return Err(failure(format!("the build context task failed: {e}"))),
        }
        let output = output.map_err(|e| self.fail(Step::BuildImage, &e.into()))?;
        if !output.success() {
            let stderr = output.stderr_text();
            let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
            return Err(failure(self.redactor.redact(&format!(
                "docker build failed on {}: {}",
                executor.label(),
                tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
            ))));
        }
        Ok(())
    }
}

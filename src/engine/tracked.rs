//! Tracked channel tags (#13, item 2): a push of `:main` (or `reconcile`, which resolves `:main`
//! now) offers the digest the tag points at to the first stages, each judged by
//! `planner::tracking::decide` against what the stage runs, proposes and ran. A new digest
//! opens the stage's PR or updates it in place (the same branch); an older one is ignored, with
//! the reason logged and counted (`baton_promotions_total{outcome="older"}`). Later stages never
//! re-resolve the tag: they promote the digest their `from` stage verified (its bump commit's
//! pointer), like any version.

use super::{report_outcome, Engine, Outcome, RepoPipeline};
use crate::github::PullRequest;
use crate::pipeline::Artifact;
use crate::planner::tracking::{decide, Step};
use crate::planner::{Offer, StagePointer};
use crate::types::{Digest, Tag};
use crate::units::Observed;

/// How many commits of a first stage's pointer file are read to judge a channel tag's digest.
const HISTORY: u32 = 10;

impl Engine {
    /// The signed offer of the digest `artifact`'s channel tag points at now, to every first
    /// stage: proposed where it is new, ignored where it is not (no downgrade). `open`: the
    /// repository's open pull requests, when the caller (`reconcile`) has just read them.
    pub(super) async fn offer_tracked(
        &self,
        rp: &RepoPipeline,
        artifact: &Artifact,
        offer: &Offer,
        open: Option<&[PullRequest]>,
    ) {
        let track = &offer.version.tag;
        let candidate = Observed::from_annotations(offer.version.digest.clone(), &offer.annotations);
        for stage in rp.pipeline.first_stages() {
            let Some(sp) = StagePointer::of(stage, artifact) else { continue };
            // A member of a group the stage holds moves with its unit, once judged new.
            if let Some(group) = Self::unit_group(rp, stage, &artifact.name) {
                let outcome = match self.judge_tracked(rp, &sp, track, &candidate, open).await {
                    Ok(Step::Propose) => self.unit_push(rp, stage, group, artifact, offer, open).await,
                    Ok(Step::Current(why)) => Ok(Outcome::Noop(why)),
                    Ok(Step::Older(why)) => {
                        crate::metrics::promotion(stage.name.as_str(), "older");
                        Ok(Outcome::Noop(why))
                    }
                    Err(e) => Err(e),
                };
                super::report_unit_outcome(stage, group, &outcome);
                continue;
            }
            let outcome = match self.judge_tracked(rp, &sp, track, &candidate, open).await {
                Ok(Step::Propose) => self.promote_knowing(rp, &sp, offer, open).await,
                Ok(Step::Current(why)) => Ok(Outcome::Noop(why)),
                Ok(Step::Older(why)) => {
                    crate::metrics::promotion(stage.name.as_str(), "older");
                    tracing::info!(stage = %stage.name, artifact = %artifact.name, digest = %candidate.digest, "tracked tag moved back: {why}");
                    Ok(Outcome::Noop(why))
                }
                Err(e) => Err(e),
            };
            report_outcome(stage, &offer.version, &outcome);
        }
    }

    /// What the stage is at for the channel tag `track` (its pointer, then its open PR, with
    /// their annotations read by digest) and the digests its pointer named before, judged.
    async fn judge_tracked(
        &self,
        rp: &RepoPipeline,
        sp: &StagePointer<'_>,
        track: &Tag,
        candidate: &Observed,
        open: Option<&[PullRequest]>,
    ) -> anyhow::Result<Step> {
        // The last 10 commits of the pointer file (each one file read): enough to know a re-push
        // of a recent digest; older ones are judged by their `created` annotation.
        let history = self.pointer_history(rp, sp, HISTORY).await?;
        let history = crate::planner::versions::distinct_versions(history.into_iter().map(|(_, v)| v));
        let seen: Vec<Digest> = history.iter().filter(|v| &v.tag == track).map(|v| v.digest.clone()).collect();
        // A member of a unit is proposed on the unit's branch.
        let group = Self::unit_group(rp, sp.stage, &sp.artifact.name);
        let branch = match group {
            Some(g) => crate::render::unit_branch(&sp.stage.name, &g.name),
            None => crate::render::branch(&sp.stage.name, &sp.artifact.name),
        };
        let pr = match open {
            Some(list) => {
                crate::planner::promotion::open_pr_for(list, &branch, self.app_login().await.as_deref()).cloned()
            }
            None => self.github.find_open_pull(&rp.repo, &branch).await?,
        };
        let proposed_by_pr =
            pr.and_then(|p| crate::render::parse_marker(&p.body)).filter(|m| !m.rollback).and_then(|m| match &m.unit {
                Some(u) => u
                    .members
                    .iter()
                    .find(|x| x.artifact == sp.artifact.name && &x.tag == track)
                    .map(|x| x.digest.clone()),
                None => (&m.tag == track).then_some(m.digest),
            });
        let mut proposed = Vec::new();
        for digest in
            history.first().filter(|v| &v.tag == track).map(|v| v.digest.clone()).into_iter().chain(proposed_by_pr)
        {
            proposed.push(self.observe(sp.artifact, digest).await);
        }
        Ok(decide(track, candidate, &proposed, &seen))
    }

    /// `/promote <first stage>` of a tracked artifact: the digest the channel tag points at
    /// now, or why not (a digest older than what the stage is at is no downgrade target; a
    /// version pinned in the command is).
    pub(crate) async fn tracked_for_command(
        &self,
        rp: &RepoPipeline,
        sp: &StagePointer<'_>,
    ) -> anyhow::Result<Result<crate::types::Version, String>> {
        let track = sp.artifact.track.clone().expect("a tracked artifact");
        let digest = self.registry.resolve(&sp.artifact.image, &track).await?.digest;
        let candidate = self.observe(sp.artifact, digest.clone()).await;
        Ok(match self.judge_tracked(rp, sp, &track, &candidate, None).await? {
            Step::Older(why) => Err(why),
            Step::Propose | Step::Current(_) => Ok(crate::types::Version { tag: track, digest }),
        })
    }

    /// How a version reads for humans: a tracked channel tag's version by its name
    /// (`main-1a2b3c4`, from its annotations read by digest), any other by its tag.
    pub(crate) async fn shown_version(&self, artifact: &Artifact, version: &crate::types::Version) -> String {
        if !crate::planner::tracking::is_tracked(artifact, version) {
            return version.tag.to_string();
        }
        let observed = self.observe(artifact, version.digest.clone()).await;
        crate::units::tracked_version_name(&version.tag, &observed)
    }

    /// A digest with its annotations (read by digest; none when the registry cannot say).
    async fn observe(&self, artifact: &Artifact, digest: Digest) -> Observed {
        match self.registry.annotations_of(&artifact.image, &digest).await {
            Ok(a) => Observed::from_annotations(digest, &a),
            Err(e) => {
                tracing::debug!(artifact = %artifact.name, %digest, error = %e, "no annotations for a digest the stage named");
                Observed { digest, created: None, revision: None }
            }
        }
    }
}

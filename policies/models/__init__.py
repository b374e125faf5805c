from policies.models.plans import PlanEntry, PolicyPlan, PolicyProposal
from policies.models.policies import Policy

__all__ = ["PlanEntry", "Policy", "PolicyPlan", "PolicyProposal"]

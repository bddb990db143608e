"""scheduling.affinity: the Kubernetes Affinity object, written as in a pod spec (camelCase), and checked as
the API server checks it (k8s.io/kubernetes/pkg/apis/core/validation: ValidateAffinity), so a config with an
affinity the API server would refuse fails `launch validate` instead of the submission."""

from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from . import kube_names
from .base import LabelKey, LabelValue, Name, Section

Weight = Annotated[int, Field(ge=1, le=100)]


class KubeSection(Section):
    """A section in the Kubernetes API's own spelling: camelCase keys in the YAML and in the rendered object."""

    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, validate_by_alias=True,
                              serialize_by_alias=True)


def _check_values(operator: str, values: list[str], numeric_ok: bool) -> None:
    if operator in ("In", "NotIn") and not values:
        raise ValueError(f"operator {operator} needs at least one value")
    if operator in ("Exists", "DoesNotExist") and values:
        raise ValueError(f"operator {operator} takes no values")
    if numeric_ok and operator in ("Gt", "Lt") and (len(values) != 1 or not _is_label_integer(values[0])):
        raise ValueError(f"operator {operator} needs exactly one whole number, 0 or more (values are label "
                         "values, so no sign)")


def _is_label_integer(text: str) -> bool:
    """An int64 that is also a label value, as the API server requires of Gt and Lt values: digits only."""
    return text.isascii() and text.isdigit() and int(text) < 2**63


class NodeSelectorRequirement(KubeSection):
    key: LabelKey
    """Node label key."""
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"]
    """How the label's value is matched: Gt and Lt compare one integer."""
    values: list[LabelValue] = []
    """Label values for In and NotIn (at least one), one whole number for Gt and Lt, none for Exists and
    DoesNotExist."""

    @model_validator(mode="after")
    def _values_fit_the_operator(self) -> "NodeSelectorRequirement":
        _check_values(self.operator, self.values, numeric_ok=True)
        return self


class NodeFieldRequirement(KubeSection):
    key: Literal["metadata.name"]
    """The only node field Kubernetes selects on."""
    operator: Literal["In", "NotIn"]
    """Whether the node's name is, or is not, the value."""
    values: list[str] = Field(min_length=1, max_length=1)
    """Exactly one node name."""


class NodeSelectorTerm(KubeSection):
    match_expressions: list[NodeSelectorRequirement] = []
    """Node label requirements, all of which must hold."""
    match_fields: list[NodeFieldRequirement] = []
    """Node field requirements, all of which must hold."""


class NodeSelector(KubeSection):
    node_selector_terms: list[NodeSelectorTerm] = Field(min_length=1)
    """Terms of which at least one must hold."""


class PreferredSchedulingTerm(KubeSection):
    weight: Weight
    """1 to 100: how much the scheduler prefers nodes matching the preference."""
    preference: NodeSelectorTerm
    """The node term preferred."""


class NodeAffinity(KubeSection):
    required_during_scheduling_ignored_during_execution: NodeSelector | None = None
    """Nodes the pods must land on."""
    preferred_during_scheduling_ignored_during_execution: list[PreferredSchedulingTerm] = []
    """Nodes the pods should land on, by weight."""


class LabelSelectorRequirement(KubeSection):
    key: LabelKey
    """Pod label key."""
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    """How the label's value is matched."""
    values: list[LabelValue] = []
    """Label values for In and NotIn (at least one); none for Exists and DoesNotExist."""

    @model_validator(mode="after")
    def _values_fit_the_operator(self) -> "LabelSelectorRequirement":
        _check_values(self.operator, self.values, numeric_ok=False)
        return self


class LabelSelector(KubeSection):
    match_labels: dict[LabelKey, LabelValue] = {}
    """Labels the pods must carry."""
    match_expressions: list[LabelSelectorRequirement] = []
    """Label requirements, all of which must hold."""


class PodAffinityTerm(KubeSection):
    label_selector: LabelSelector | None = None
    """The pods this term is about."""
    namespaces: list[Annotated[Name, AfterValidator(kube_names.check_subdomain)]] = []
    """Namespaces of those pods; empty: the run's own namespace."""
    namespace_selector: LabelSelector | None = None
    """Namespaces of those pods, by namespace label."""
    topology_key: LabelKey
    """Node label whose equal values count as "together", e.g. kubernetes.io/hostname."""


class WeightedPodAffinityTerm(KubeSection):
    weight: Weight
    """1 to 100: how much the scheduler prefers this term."""
    pod_affinity_term: PodAffinityTerm
    """The term preferred."""


class PodAffinity(KubeSection):
    required_during_scheduling_ignored_during_execution: list[PodAffinityTerm] = []
    """Terms that must hold."""
    preferred_during_scheduling_ignored_during_execution: list[WeightedPodAffinityTerm] = []
    """Terms preferred, by weight."""


class Affinity(KubeSection):
    """Where the pods may run relative to nodes and other pods, as in a pod spec's affinity."""

    node_affinity: NodeAffinity | None = None
    """Rules about node labels."""
    pod_affinity: PodAffinity | None = None
    """Run near pods matching these terms."""
    pod_anti_affinity: PodAffinity | None = None
    """Run away from pods matching these terms."""

    def rendered(self) -> dict:
        """The pod spec's affinity: camelCase, without the empty parts."""
        return self.model_dump(mode="json", exclude_defaults=True)

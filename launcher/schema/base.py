"""What every config section shares: the strictness of its model and the Kubernetes name types."""

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from . import kube_names

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"

Name = Annotated[str, Field(pattern=DNS_LABEL, max_length=63)]
LabelKey = Annotated[str, AfterValidator(kube_names.check_label_key)]
LabelValue = Annotated[str, AfterValidator(kube_names.check_label_value)]


class Section(BaseModel):
    """Every config section rejects unknown keys and documents each field."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, validate_default=True)

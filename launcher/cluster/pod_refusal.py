"""Pure: why the API server refused a pod the Job controller tried to create, in plain words with the fix.

The Job controller reports each refusal as a Warning event `FailedCreate` on the Job, message
`Error creating: <the API error>` (k/k pkg/controller/controller_utils.go; shared/reference/
kubernetes-run-status.md 3.3). The API errors come from admission plugins, formats as of k/k 1.37:
- ServiceAccount (plugin/pkg/admission/serviceaccount): `pods "<name>" is forbidden: error looking up service
  account <ns>/<sa>: serviceaccount "<sa>" not found`;
- ResourceQuota (staging/src/k8s.io/apiserver/pkg/admission/plugin/resourcequota/controller.go):
  `exceeded quota: <quota>, requested: <r=q,...>, used: <...>, limited: <...>`, and `failed quota: <quota>:
  must specify <resources>` when the quota covers a resource the pod does not set;
- LimitRanger (plugin/pkg/admission/limitranger): `maximum <resource> usage per <Container|Pod> is <q>, but
  limit is <q>`, `minimum ... but request is <q>`, `<resource> max limit to request ratio per Container is
  <r>, but provided ratio is <r>`; several of them come as `[a, b]`;
- PodSecurity: `violates PodSecurity "<level>:<version>": ...`; webhooks: `admission webhook "<name>" denied
  the request: ...`.
"""

import re

_SERVICE_ACCOUNT = re.compile(r'serviceaccount "([^"]+)" not found')
_EXCEEDED = re.compile(r"exceeded quota: ([^,]+), requested: (.+?), used: (.+?), limited: ([^\]]+?)\]?$")
_MUST_SPECIFY = re.compile(r"failed quota: ([^:]+): must specify (.+)$")
_LIMIT_RANGE = re.compile(r"(?:maximum|minimum) (\S+) usage per (?:Container|Pod) is \S+, but (?:limit|request) is \S+"
                          r"|(\S+) max limit to request ratio per (?:Container|Pod) is \S+, but provided ratio is \S+")
_WEBHOOK = re.compile(r'admission webhook "([^"]+)" denied the request: (.*)$')
_FIELDS = {"cpu": "resources.cpu", "memory": "resources.memory"}


def refusal_words(message: str) -> tuple[str, str]:
    """(what, fix) for a FailedCreate message; an unknown refusal is quoted as it is."""
    if found := _SERVICE_ACCOUNT.search(message):
        return (f"its ServiceAccount {found.group(1)} does not exist in the namespace",
                f"fix storage.checkpoints.service_account, or create the ServiceAccount {found.group(1)}")
    if found := _EXCEEDED.search(message):
        quota, requested, used, limited = found.groups()
        return (f"the namespace's ResourceQuota {quota} is full (requested {requested}; used {used}; limited "
                f"{limited})", f"lower resources (nodes, cpu, memory, GPUs), wait for other pods of the namespace "
                f"to end, or ask for a larger quota (kubectl describe resourcequota {quota})")
    if found := _MUST_SPECIFY.search(message):
        return (f"the namespace's ResourceQuota {found.group(1)} needs every pod to set {found.group(2)}",
                "ask the cluster admins for a LimitRange that defaults them, or for the quota to drop them")
    if limits := _LIMIT_RANGE.findall(message):
        said = message[message.index(_LIMIT_RANGE.search(message).group(0)):].strip("[]")
        fields = sorted({_FIELDS.get(a or b, f"resources ({a or b})") for a, b in limits})
        return (f"the namespace's LimitRange refuses it: {said}",
                f"set {' and '.join(fields)} within the LimitRange's bounds (kubectl describe limitrange)")
    if "violates PodSecurity" in message:
        return (f"the namespace's Pod Security level refuses it: {message.split('forbidden: ', 1)[-1]}",
                "ask for the namespace's pod-security.kubernetes.io/enforce label to allow the pods")
    if found := _WEBHOOK.search(message):
        return (f"the admission webhook {found.group(1)} refuses it: {found.group(2)}",
                f"fix what {found.group(1)} names (a policy of the cluster: ask its admins)")
    return message.removeprefix("Error creating: "), "fix what the message names"

"""The one module that imports `kubernetes`: every call the launcher makes to the API server goes through Kube.

- Objects come back as plain dicts in the API's own JSON (camelCase, RFC 3339 strings), decoded with
  `json.loads`: the client's model deserialisation is slow, and lossy for fields newer than the client, and the
  pure modules (runstatus, doctor, submit) get the same shapes `kubectl get -o json` shows.
- The official client loads the kubeconfig and authenticates (contexts, tokens, client certificates, exec
  plugins: `kubernetes.config` and `ApiClient.param_serialize`, which applies the BearerToken and refreshes it);
  requests go through its `ApiClient.call_api` to REST paths spelled here. The generated API classes
  (`CoreV1Api`, `BatchV1Api`, ...) and their models are never imported: importing them cost a fresh
  `launch status` about 0.85 s of its 1.25 s (docs/benchmarks.md; tests/test_boundaries.py pins it).
- Every call has a timeout (`_request_timeout=(connect, read)`); 429 (Retry-After honoured), 5xx and dropped
  connections are retried by retry.RetryPolicy; every other error becomes one ClusterError line that names
  the verb and resource (401/403 also name manifests/rbac.yaml). The CLI prints it without a traceback.
- Kube takes its ApiClient as an argument (tests pass one pointed at tests/cluster's control plane);
  `connect` builds one from a kubeconfig, or in-cluster credentials, as kubectl would.
"""

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import urllib3
import yaml
from kubernetes import config
from kubernetes.client import ApiClient, ApiException

from ..errors import ConfigError
from .retry import RetryPolicy, retryable
from .runstatus import KUEUE_WEBHOOK

CONNECT_SECONDS = 5.0
READ_SECONDS = 30.0
LOG_TRIES = 2  # a kubelet that cannot serve a log rarely recovers within a retry; the follower tries again
DROPPED = (urllib3.exceptions.ProtocolError, urllib3.exceptions.MaxRetryError, urllib3.exceptions.TimeoutError,
           ConnectionError)
RBAC_HINT = "manifests/rbac.yaml's Role `launcher` grants what launch needs"
CORE, BATCH = "", "batch/v1"  # API groups/versions of the paths below ("": the core API, /api/v1)
CREATABLE = {"ConfigMap": (CORE, "configmaps"), "Service": (CORE, "services"), "Job": (BATCH, "jobs")}


class ClusterError(ConfigError):
    """An API call that cannot succeed (refused, not found, bad request, retries used up): one line, exit 2.
    `status`: the HTTP status, None when there was no answer."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class Dropped(ClusterError):
    """A stream (log or watch) broke off mid-way; the caller resumes it."""


def connect(kubeconfig: Path | None = None, context: str | None = None) -> ApiClient:
    """An ApiClient from `kubeconfig` (default $KUBECONFIG or ~/.kube/config) and `context` (default: the
    current one), or from the pod's ServiceAccount when no kubeconfig exists and none was named.
    Raises ClusterError for a missing file or an unknown context."""
    if kubeconfig is not None and not Path(kubeconfig).expanduser().is_file():
        raise ClusterError(f"--kubeconfig {kubeconfig}: no such file")
    location = config.KUBE_CONFIG_DEFAULT_LOCATION or "~/.kube/config"
    defaults = [Path(p).expanduser() for p in location.split(":") if p]
    try:
        if kubeconfig is None and not any(p.is_file() for p in defaults):
            if context is not None or not _in_cluster():
                raise ClusterError(f"no kubeconfig ({location} does not exist) and not "
                                   f"in a pod: pass --kubeconfig or set KUBECONFIG, or use --local to run here")
            config.load_incluster_config()
            return ApiClient()
        _check_context(kubeconfig, context, location)
        return config.new_client_from_config(config_file=str(kubeconfig) if kubeconfig else None, context=context)
    except config.ConfigException as exc:
        raise ClusterError(f"kubeconfig: {str(exc).splitlines()[0]}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        where = kubeconfig or location
        raise ClusterError(f"kubeconfig {where}: not a kubeconfig (YAML) file: {str(exc).splitlines()[0]}; "
                           "pass another with --kubeconfig") from None


def _check_context(kubeconfig: Path | None, context: str | None, location: str) -> None:
    """ClusterError naming the contexts there are, as kubectl does, when --context names none of them."""
    if context is None:
        return
    contexts, _ = config.list_kube_config_contexts(str(kubeconfig) if kubeconfig else None)
    names = [c["name"] for c in contexts]
    if context not in names:
        raise ClusterError(f"context {context!r} does not exist in {kubeconfig or location} "
                           f"(contexts: {', '.join(names) or 'none'}); pass one of them to --context")


def context_namespace(kubeconfig: Path | None = None, context: str | None = None) -> str | None:
    """The namespace the kubeconfig's context names (kubectl's default namespace), None if it names none."""
    try:
        contexts, current = config.list_kube_config_contexts(str(kubeconfig) if kubeconfig else None)
    except (config.ConfigException, OSError):
        return None
    chosen = next((c for c in contexts if c["name"] == context), None) if context else current
    return ((chosen or {}).get("context") or {}).get("namespace")


def _in_cluster() -> bool:
    return Path("/var/run/secrets/kubernetes.io/serviceaccount/token").is_file()


class Kube:
    """API calls of one namespace. `calls` counts requests sent (retries included), for the benchmarks."""

    def __init__(self, api: ApiClient, namespace: str, policy: RetryPolicy = RetryPolicy(),
                 sleep: Callable[[float], None] = time.sleep, namespace_from: str = ""):
        self.api, self.namespace, self.policy, self.sleep = api, namespace, policy, sleep
        self.namespace_from = namespace_from  # where the namespace was chosen ("-n", "the config", ...), for errors
        self.calls = 0

    def path(self, group: str, resource: str, name: str = "", sub: str = "") -> str:
        """The REST path of a namespaced resource: group "" is the core API (`/api/v1`), else
        "batch/v1" -> `/apis/batch/v1`; then `/namespaces/<ns>/<resource>[/<name>[/<sub>]]`."""
        base = f"/apis/{group}" if group else "/api/v1"
        parts = [base, "namespaces", quote(self.namespace, safe=""), resource]
        parts += [quote(part, safe="") for part in (name, sub) if part]
        return "/".join(parts)

    def send(self, method: str, path: str, query: dict | None = None, body=None, content_type: str | None = None,
             read: float = READ_SECONDS):
        """One request through the ApiClient (its auth, TLS and proxy settings); the urllib3 response, unread.
        Raises ApiException for an answer outside 2xx, as the generated client methods do."""
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type or "application/json"
        params = [(key, value) for key, value in (query or {}).items() if value is not None]
        request = self.api.param_serialize(method, path, query_params=params, header_params=headers, body=body,
                                           auth_settings=["BearerToken"])
        response = self.api.call_api(*request, _request_timeout=(CONNECT_SECONDS, read))
        if not 200 <= response.status <= 299:
            response.read()
            raise ApiException.from_response(http_resp=response, body=None, data=None)
        return response.response

    # The retrying core ------------------------------------------------------------------------------------
    def raw(self, verb: str, resource: str, method: str, path: str, read: float = READ_SECONDS,
            tries: int | None = None, **kwargs):
        """`send` (HTTP `method` to `path`; `kwargs`: its query, body, content_type) with a timeout and the retry
        policy (at most `tries` tries if given); returns the urllib3 response (the caller reads or streams it).
        Raises ClusterError for answers retrying cannot fix."""
        tries = tries or self.policy.attempts
        for attempt in range(1, tries + 1):
            self.calls += 1
            try:
                return self.send(method, path, read=read, **kwargs)
            except ApiException as exc:
                if not retryable(exc.status) or attempt == tries:
                    raise self.error(verb, resource, exc) from None
                self.sleep(self.policy.delay(attempt, (exc.headers or {}).get("Retry-After")))
            except DROPPED as exc:
                if _tls_refused(exc):
                    raise ClusterError(f"{verb} {resource}: the API server's certificate is not trusted by the "
                                       f"kubeconfig's CA ({_tls_refused(exc)}): check --context/--kubeconfig") from None
                if attempt == tries:
                    raise ClusterError(f"{verb} {resource}: no answer from the API server "
                                       f"{self.api.configuration.host} after {attempt} tries "
                                       f"({type(exc).__name__}): check that the cluster is up and the kubeconfig's "
                                       "context (--context, --kubeconfig)") from None
                self.sleep(self.policy.delay(attempt))
        raise AssertionError("unreachable")

    def json(self, verb: str, resource: str, method: str, path: str, **kwargs) -> dict:
        """`raw`, decoded: the object or list as the API server wrote it."""
        response = self.raw(verb, resource, method, path, **kwargs)
        try:
            return json.loads(response.data or b"{}")
        finally:
            response.release_conn()

    def error(self, verb: str, resource: str, exc: ApiException) -> ClusterError:
        """One line for an API error; 401/403 name the verb and resource, and the Role that grants them."""
        status = _status_body(exc.body)
        message = status.get("message") or exc.reason or "no message"
        details = status.get("details") or {}
        if exc.status == 403:
            return ClusterError(f"forbidden: cannot {verb} {resource} in namespace {self.namespace!r}: "
                                f"{message} ({RBAC_HINT})", 403)
        if exc.status == 401:
            return ClusterError(f"unauthorized: the API server refused the kubeconfig's credentials to {verb} "
                                f"{resource} (expired token or wrong user?)", 401)
        if KUEUE_WEBHOOK in message:
            return ClusterError(f"{verb} {resource}: Kueue's admission webhook is unreachable, so the cluster "
                                f"accepts no Job now (not a problem of this run; ask the cluster admins): {message}",
                                exc.status)
        if exc.status == 404 and details.get("kind") == "namespaces":
            name = details.get("name", self.namespace)
            source = f" (from {self.namespace_from})" if self.namespace_from else ""
            return ClusterError(f"namespace {name!r}{source} not found: create it (`kubectl create namespace {name}`"
                                f", or `kubectl apply -k manifests/` for `training`) or pass another with -n", 404)
        return ClusterError(f"{verb} {resource}: {exc.status} {status.get('reason') or exc.reason}: {message}",
                            exc.status)

    def optional(self, verb: str, resource: str, method: str, path: str, **kwargs) -> dict | None:
        """`json`, or None when the object does not exist (404)."""
        try:
            return self.json(verb, resource, method, path, **kwargs)
        except ClusterError as exc:
            if exc.status == 404:
                return None
            raise

    # Reads ------------------------------------------------------------------------------------------------
    def job(self, name: str) -> dict | None:
        return self.optional("get", f"jobs.batch/{name}", "GET", self.path(BATCH, "jobs", name))

    def jobs(self, selector: str) -> list[dict]:
        return self.json("list", "jobs.batch", "GET", self.path(BATCH, "jobs"),
                         query={"labelSelector": selector})["items"]

    def pods(self, selector: str) -> list[dict]:
        return self.pod_list(selector)["items"]

    def pod_list(self, selector: str) -> dict:
        """The PodList, with its metadata.resourceVersion (where a watch starts)."""
        return self.json("list", "pods", "GET", self.path(CORE, "pods"), query={"labelSelector": selector})

    def events(self, field_selector: str = "") -> list[dict]:
        return self.json("list", "events", "GET", self.path(CORE, "events"),
                         query={"fieldSelector": field_selector or None})["items"]

    def workloads(self, job_uid: str) -> list[dict] | None:
        """The Kueue Workloads of a Job (v1beta2, then v1beta1); None when Kueue is not installed or the
        identity may not read them (the doctor then says less, rather than failing)."""
        for version in ("v1beta2", "v1beta1"):
            try:
                return self.json("list", "workloads.kueue.x-k8s.io", "GET",
                                 self.path(f"kueue.x-k8s.io/{version}", "workloads"),
                                 query={"labelSelector": f"kueue.x-k8s.io/job-uid={job_uid}"})["items"]
            except ClusterError as exc:
                if exc.status not in (403, 404):
                    raise
        return None

    def config_map(self, name: str) -> dict | None:
        return self.optional("get", f"configmaps/{name}", "GET", self.path(CORE, "configmaps", name))

    def node(self, name: str) -> dict | None:
        """A Node (cluster-scoped: the launcher Role cannot read it; callers treat 403 as unknown)."""
        return self.optional("get", f"nodes/{name}", "GET", f"/api/v1/nodes/{quote(name, safe='')}")

    # Writes -----------------------------------------------------------------------------------------------
    def create(self, obj: dict, dry_run: bool = False) -> dict:
        """Create a ConfigMap, Service or Job with strict field validation; `dry_run`: dryRun=All."""
        kind, name = obj["kind"], obj["metadata"]["name"]
        group, resource = CREATABLE[kind]
        return self.json("create", f"{kind.lower()}s/{name}", "POST", self.path(group, resource), body=obj,
                         query={"fieldValidation": "Strict", "dryRun": "All" if dry_run else None})

    def replace_config_map(self, obj: dict) -> dict:
        """Replace a ConfigMap. With metadata.resourceVersion set, the API server refuses a stale copy with
        409 Conflict (an optimistic lock: launcher/sweeps/reconcile.py keeps a sweep's slots this way)."""
        name = obj["metadata"]["name"]
        return self.json("replace", f"configmaps/{name}", "PUT", self.path(CORE, "configmaps", name), body=obj)

    def patch_job(self, name: str, patch: dict) -> dict:
        """A JSON merge patch of the Job."""
        return self.json("patch", f"jobs.batch/{name}", "PATCH", self.path(BATCH, "jobs", name), body=patch,
                         content_type="application/merge-patch+json")

    def delete_job(self, name: str) -> dict | None:
        """Delete with foreground propagation: the Job stays (deletionTimestamp set) until its pods, ConfigMap
        and Service are gone. None if it was already gone."""
        return self.optional("delete", f"jobs.batch/{name}", "DELETE", self.path(BATCH, "jobs", name),
                             query={"propagationPolicy": "Foreground"})

    # Streams ----------------------------------------------------------------------------------------------
    def log(self, pod: str, container: str, follow: bool = False, tail: int | None = None,
            since_seconds: int | None = None, read: float = READ_SECONDS) -> Iterator[str]:
        """The container's log, line by line (with the kubelet's RFC 3339 timestamp prefix)."""
        query = {"container": container, "follow": follow, "tailLines": tail, "sinceSeconds": since_seconds,
                 "timestamps": True}
        response = self.raw("get", f"pods/{pod}/log", "GET", self.path(CORE, "pods", pod, "log"), query=query,
                            read=read, tries=LOG_TRIES)
        try:
            yield from _lines(response.stream(4096))
        except DROPPED as exc:
            raise Dropped(f"log of {pod}: the stream broke off ({type(exc).__name__})") from None
        finally:
            response.release_conn()

    def watch_pods(self, selector: str, resource_version: str, seconds: int = 60) -> Iterator[dict]:
        """Watch events {"type", "object"} of the pods from `resource_version`, ended by the server after
        `seconds`. An ERROR event is yielded as is (410 Gone: the caller re-lists; see follow.watch_changes)."""
        query = {"labelSelector": selector, "watch": True, "resourceVersion": resource_version,
                 "timeoutSeconds": seconds, "allowWatchBookmarks": True}
        response = self.raw("watch", "pods", "GET", self.path(CORE, "pods"), query=query, read=seconds + READ_SECONDS)
        try:
            yield from (json.loads(line) for line in _lines(response.stream(4096)) if line.strip())
        except DROPPED as exc:
            raise Dropped(f"watch of pods: the stream broke off ({type(exc).__name__})") from None
        finally:
            response.release_conn()


def _tls_refused(exc: Exception) -> str:
    """The TLS verification failure behind a connection error ("" for anything else): retrying cannot help."""
    reason = getattr(exc, "reason", None)
    if isinstance(reason, urllib3.exceptions.SSLError):
        return str(reason).split(": ", 1)[-1][:200]
    return ""


def _lines(chunks: Iterator[bytes]) -> Iterator[str]:
    """Whole lines from a byte stream (UTF-8, undecodable bytes replaced), without their newlines."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *whole, pending = pending.split(b"\n")
        yield from (line.decode("utf-8", "replace") for line in whole)
    if pending:
        yield pending.decode("utf-8", "replace")


def _status_body(body) -> dict:
    """The metav1.Status an error answer carries ({} for another body)."""
    try:
        status = json.loads(body or "")
    except (TypeError, ValueError):
        return {}
    return status if isinstance(status, dict) else {}

"""g2s(...) against a dqs server (HTTP API under /v1), with G2S's arguments and return values.

Supported: -a qs | qs_prep | qs_dm, -ti, -di, -dt, -k, -n, -j, -s, -ks, -ki, -id, -jg (-job_grid_json,
-job_grid), -eg, -di_grid_json, -submitOnly, -statusOnly, -waitAndDownload, -kill, -sa (server address),
-p (port), -silent, -TO (timeout in ms). Arrays keep their numpy orientation: row 0 is the top row, and a job
grid [[101, 102], [103, 104]] puts 102 right of 101 and 103 below it.
"""

import hashlib
import io
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import numpy as np

_DEFAULT_PORT = 3000
_job_of_run = {}


class DqsError(RuntimeError):
    """An error from the dqs server or from the arguments, with what to do next."""


class Status(float):
    """A run's progress (0-100) that also unpacks like G2S's (progress, job id) tuple."""

    def __new__(cls, progress, job_id):
        obj = float.__new__(cls, progress)
        obj.job_id = job_id
        return obj

    def __iter__(self):
        return iter((float(self), self.job_id))

    def __getitem__(self, i):
        return (float(self), self.job_id)[i]

    def __len__(self):
        return 2


def _parse(args):
    if len(args) == 0:
        raise DqsError("g2s() needs arguments, e.g. g2s('-a', 'qs', '-ti', ti, '-di', di, '-dt', [0], '-k', 1.2, '-n', 50)")
    flags = {}
    i = 0
    while i < len(args):
        key = args[i]
        if not isinstance(key, str) or not key.startswith("-"):
            raise DqsError(f"argument {i} ({key!r}) should be a flag such as '-ti'")
        values = []
        i += 1
        while i < len(args) and not (isinstance(args[i], str) and args[i].startswith("-") and not _is_number(args[i])):
            values.append(args[i])
            i += 1
        if key in flags:
            raise DqsError(f"{key} is given twice")
        flags[key] = values
    return flags


def _is_number(s):
    try:
        float(s)
        return True
    except ValueError:
        return False


def _one(flags, key, default=None):
    v = flags.get(key)
    if v is None:
        return default
    if len(v) != 1:
        raise DqsError(f"{key} takes one value (got {len(v)})")
    return v[0]


class _Server:
    def __init__(self, flags):
        address = _one(flags, "-sa", os.environ.get("DQS_URL", "127.0.0.1"))
        port = _one(flags, "-p", None)
        if "://" not in str(address):
            address = f"http://{address}:{int(port) if port is not None else _DEFAULT_PORT}"
        self.url = str(address).rstrip("/")
        self.token = os.environ.get("DQS_TOKEN")
        timeout_ms = _one(flags, "-TO", None)
        self.timeout = None if timeout_ms is None else float(timeout_ms) / 1000.0
        self.silent = "-silent" in flags

    def request(self, method, path, body=None, raw=None, timeout=600):
        headers = {}
        data = None
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if raw is not None:
            headers["Content-Type"] = "application/octet-stream"
            data = raw
        elif body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as res:
                return res.read()
        except urllib.error.HTTPError as e:
            try:
                message = json.loads(e.read().decode()).get("message", e.reason)
            except Exception:
                message = e.reason
            if isinstance(message, list):
                message = "; ".join(message)
            raise DqsError(f"dqs server ({e.code}): {message}") from None
        except urllib.error.URLError as e:
            raise DqsError(f"cannot reach dqs at {self.url} ({e.reason}); start one with 'dqs up' or give '-sa'") from None

    def json(self, method, path, body=None):
        return json.loads(self.request(method, path, body=body).decode())

    def upload(self, array, dt):
        a = np.asarray(array, dtype=np.float32)
        if a.ndim == 0:
            raise DqsError("a grid must be an array, not a single number")
        if len(dt) > 1 and a.shape[-1] != len(dt):
            raise DqsError(f"-dt lists {len(dt)} variables, so the last axis must have {len(dt)} entries (shape {a.shape})")
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(a), allow_pickle=False)
        raw = buf.getvalue()
        sha = hashlib.sha256(raw).hexdigest()
        try:
            self.request("GET", f"/v1/arrays/{sha}")
            return sha
        except DqsError:
            pass
        return json.loads(self.request("POST", "/v1/arrays", raw=raw).decode())["sha256"]

    def npy(self, path, timeout):
        return np.load(io.BytesIO(self.request("GET", path, timeout=timeout)), allow_pickle=False)


def _dt(flags, default_continuous=False):
    dt = flags.get("-dt")
    if not dt and default_continuous:
        # G2S refuses qs_prep without -dt; its own documentation's example omits it, so dqs takes one
        # continuous variable and says so
        sys.stderr.write("dqs: qs_prep without -dt: taking [0] (one continuous variable); pass '-dt' to be explicit\n")
        return [0]
    if not dt:
        raise DqsError("-dt is missing: give one type per variable, e.g. '-dt', [0] (0 = continuous, 1 = categorical)")
    values = dt[0] if len(dt) == 1 and isinstance(dt[0], (list, tuple, np.ndarray)) else dt
    return [int(v) for v in np.atleast_1d(values)]


def _numbers(flags, key):
    v = flags.get(key)
    if v is None:
        return None
    values = v[0] if len(v) == 1 and isinstance(v[0], (list, tuple, np.ndarray)) else v
    return [float(x) for x in np.atleast_1d(values)]


def _grid(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, str):
        return value
    return json.loads(json.dumps(value, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def _qs_flags(flags):
    body = {"dt": _dt(flags)}
    k = _one(flags, "-k")
    if k is None:
        raise DqsError("-k is missing (e.g. '-k', 1.2)")
    body["k"] = float(k)
    n = _numbers(flags, "-n")
    if n is None:
        raise DqsError("-n is missing (e.g. '-n', 50)")
    body["n"] = [int(x) for x in n]
    s = _one(flags, "-s")
    if s is not None:
        body["s"] = int(s)
    j = _numbers(flags, "-j")
    if j is not None:
        body["j"] = j[0]
    ks = _numbers(flags, "-ks")
    if ks is not None:
        body["ks"] = [int(x) for x in ks]
    return body


def _wait_run(server, run_id, timeout):
    start = time.time()
    while True:
        s = server.json("GET", f"/v1/runs/{run_id}")
        if s["state"] == "completed":
            return s
        if s["state"] in ("failed", "cancelled"):
            raise DqsError(f"run {run_id} {s['state']}: {s.get('error') or ''}")
        if timeout is not None and time.time() - start > timeout:
            raise DqsError(f"run {run_id} not finished after {timeout} s")
        time.sleep(0.25)


def _namespace(flags):
    """The namespace of job ids: -namespace (or -ns), else DQS_NAMESPACE, else 'default'."""
    ns = _one(flags, "-namespace", _one(flags, "-ns", os.environ.get("DQS_NAMESPACE") or "default"))
    return str(ns)


def _download_chunk(server, job_id, run_id=None, timeout=None, namespace="default"):
    t = 86400 if timeout is None else max(1, int(timeout))
    base = f"/v1/runs/{run_id}/chunks/{job_id}" if run_id else f"/v1/chunks/{job_id}"
    scope = "" if run_id else f"&namespace={urllib.parse.quote(namespace)}"
    sim = server.npy(f"{base}?wait=true&timeout={t}{scope}", timeout=t + 30)
    index = server.npy(f"{base}?wait=true&part=index&timeout={t}{scope}", timeout=t + 30)
    return sim, index


def g2s(*args):
    """G2S's interface: g2s('-a', 'qs', '-ti', ti, '-di', di, '-dt', [0], '-k', 1.2, '-n', 50, '-s', 100)."""
    flags = _parse(args)
    server = _Server(flags)
    if "-statusOnly" in flags:
        run_id = str(_one(flags, "-statusOnly"))
        s = server.json("GET", f"/v1/runs/{run_id}")
        if s["state"] in ("failed", "cancelled"):
            raise DqsError(f"run {run_id} {s['state']}: {s.get('error') or ''}")
        return Status(s["progress"], run_id)
    if "-waitAndDownload" in flags:
        job = str(_one(flags, "-waitAndDownload"))
        if job.startswith("r") and job in _job_of_run:
            job = _job_of_run[job]
        start = time.time()
        sim, index = _download_chunk(server, job, timeout=server.timeout, namespace=_namespace(flags))
        return sim, index, time.time() - start, 100.0, job
    if "-kill" in flags:
        run_id = str(_one(flags, "-kill"))
        server.json("POST", f"/v1/runs/{run_id}/kill")
        return None
    algo = _one(flags, "-a")
    if algo is None:
        raise DqsError("-a is missing: give '-a', 'qs', 'qs_prep' or 'qs_dm'")
    if algo in ("qs", "QS", "QuickSampling"):
        return _qs(server, flags)
    if algo == "qs_prep":
        return _prep(server, flags)
    if algo == "qs_dm":
        return _dm(server, flags)
    raise DqsError(f"-a {algo!r} is not offered by dqs; use 'qs', 'qs_prep' or 'qs_dm'")


def _prep(server, flags):
    job_id = _one(flags, "-id")
    if job_id is None:
        raise DqsError("qs_prep needs '-id', the job id")
    dt = _dt(flags, default_continuous=True)
    tis = flags.get("-ti")
    if not tis:
        raise DqsError("qs_prep needs '-ti', one or more training images")
    di = _one(flags, "-di")
    if di is None:
        raise DqsError("qs_prep needs '-di', the destination image")
    body = {"id": str(int(job_id)), "ti": [server.upload(t, dt) for t in tis], "di": server.upload(di, dt), "dt": dt}
    body["namespace"] = _namespace(flags)
    server.json("POST", "/v1/prep", body)
    return None


def _dm(server, flags):
    jg = None
    for key in ("-jg", "-job_grid_json", "-job_grid"):
        if key in flags:
            jg = _one(flags, key)
    if jg is None:
        raise DqsError("qs_dm needs '-jg', the job grid, e.g. [[101, 102], [103, 104]]")
    body = _qs_flags(flags)
    body["jg"] = _grid(jg)
    eg = _one(flags, "-eg", _one(flags, "-endpoint_grid_json"))
    if eg is not None:
        body["eg"] = _grid(eg)
    dig = _one(flags, "-di_grid_json")
    if dig is not None:
        body["di_grid_json"] = _grid(dig)
    body["namespace"] = _namespace(flags)
    batch = _one(flags, "-batch")
    if batch is not None:
        body["batch"] = str(batch)
    run = server.json("POST", "/v1/runs", body)
    run_id = run["runId"]
    if "-submitOnly" in flags:
        return run_id
    start = time.time()
    _wait_run(server, run_id, server.timeout)
    return None, None, time.time() - start, 100.0, run_id


def _qs(server, flags):
    """Local QS as a 1x1 distributed run (which gives the bytes of dqs qs)."""
    dt = _dt(flags)
    tis = flags.get("-ti")
    di = _one(flags, "-di")
    if not tis or di is None:
        raise DqsError("qs needs '-ti' and '-di'")
    job_id = str(int.from_bytes(os.urandom(4), "big") & 0x7FFFFFFF)
    body = {"id": job_id, "ti": [server.upload(t, dt) for t in tis], "di": server.upload(di, dt), "dt": dt}
    server.json("POST", "/v1/prep", body)
    run_body = _qs_flags(flags)
    run_body["jg"] = [[int(job_id)]]
    run = server.json("POST", "/v1/runs", run_body)
    if "-submitOnly" in flags:
        _job_of_run[run["runId"]] = job_id
        return run["runId"]
    start = time.time()
    _wait_run(server, run["runId"], server.timeout)
    sim, index = _download_chunk(server, job_id, run["runId"], server.timeout)
    return sim, index, time.time() - start, 100.0, run["runId"]


if __name__ == "__main__":
    sys.stderr.write("import this package: from dqs import g2s\n")

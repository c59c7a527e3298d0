// test-deploy.mjs -- checks the Kubernetes manifests in deploy/kubernetes/
// offline: each document against the Kubernetes JSON schemas of the pinned
// kubernetes-models (with @kubernetes-models/validate), then the rules the
// deployment depends on (probes, limits, non-root, read-only root, a grace
// period longer than the shutdown delay plus the drain timeout, selectors
// that match), then the probes against the built binary: l2d started with the
// manifest's settings answers the liveness and readiness paths with 200 on
// the manifest's port setting, and after SIGTERM readiness turns 503 while
// liveness stays 200. Each rule is also run on a broken copy that it must
// reject, so a check that cannot fail is caught here.
//
// Usage: node tests/deploy/test-deploy.mjs [L2D_BINARY]   (default build/l2d)
import { spawn, execFileSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import yaml from "js-yaml";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const DIR = join(ROOT, "deploy", "kubernetes");
const L2D = process.argv[2] || join(ROOT, "build", "l2d");
const NAME = "test-deploy";

function fail(msg) {
  console.error(`${NAME}: FAIL: ${msg}`);
  process.exit(1);
}

// --- schema validation -----------------------------------------------------

// "apps/v1" -> "kubernetes-models/apps/v1", "v1" -> "kubernetes-models/v1".
async function modelClass(apiVersion, kind) {
  let mod;
  try {
    mod = await import(`kubernetes-models/${apiVersion}`);
  } catch {
    return null;
  }
  return mod[kind] || null;
}

async function schemaErrors(doc) {
  if (!doc || typeof doc !== "object" || !doc.apiVersion || !doc.kind)
    return "not a Kubernetes object (no apiVersion/kind)";
  const Model = await modelClass(doc.apiVersion, doc.kind);
  if (!Model) return `unknown apiVersion/kind ${doc.apiVersion} ${doc.kind}`;
  try {
    new Model(doc).validate();
  } catch (e) {
    return e.message;
  }
  return null;
}

// --- the rules the deployment depends on ------------------------------------

function byKind(docs, kind) {
  return docs.filter((d) => d.kind === kind);
}

function envOf(container) {
  const env = {};
  for (const e of container.env || []) env[e.name] = e.value;
  return env;
}

function labelsMatch(selector, labels) {
  return Object.entries(selector || {}).every(([k, v]) => labels[k] === v);
}

// Returns a list of problems (empty when every rule holds).
function ruleErrors(docs) {
  const errs = [];
  const deps = byKind(docs, "Deployment");
  if (deps.length !== 1) return [`want one Deployment, found ${deps.length}`];
  const dep = deps[0];
  const pod = dep.spec.template.spec;
  const labels = dep.spec.template.metadata?.labels || {};
  if (!labelsMatch(dep.spec.selector.matchLabels, labels))
    errs.push("Deployment selector does not match its pod labels");
  const c = (pod.containers || []).find((x) => x.name === "l2d");
  if (!c) return errs.concat("no container named l2d");
  const env = envOf(c);
  const port = Number(env.L2D_PORT);
  const http = (c.ports || []).find((p) => p.name === "http");
  if (!http || http.containerPort !== port)
    errs.push(`containerPort 'http' (${http?.containerPort}) is not L2D_PORT (${env.L2D_PORT})`);
  if (env.L2D_BIND !== "0.0.0.0") errs.push("L2D_BIND must be 0.0.0.0 (probes come from outside the pod)");
  for (const [probe, path] of [["livenessProbe", "/healthz"], ["readinessProbe", "/readyz"]]) {
    const g = c[probe]?.httpGet;
    if (!g) errs.push(`${probe}: no httpGet`);
    else if (g.path !== path) errs.push(`${probe}: path ${g.path}, want ${path}`);
    else if (g.port !== "http" && g.port !== port) errs.push(`${probe}: port ${g.port} is not the container's`);
  }
  for (const kind of ["requests", "limits"])
    for (const r of ["cpu", "memory"])
      if (!c.resources?.[kind]?.[r]) errs.push(`resources.${kind}.${r} missing`);
  const sc = c.securityContext || {};
  const psc = pod.securityContext || {};
  if (!(sc.runAsNonRoot ?? psc.runAsNonRoot)) errs.push("runAsNonRoot is not set");
  if (!((sc.runAsUser ?? psc.runAsUser) > 0)) errs.push("runAsUser is not a non-root uid");
  if (sc.readOnlyRootFilesystem !== true) errs.push("readOnlyRootFilesystem is not true");
  if (sc.allowPrivilegeEscalation !== false) errs.push("allowPrivilegeEscalation is not false");
  const delay = Number(env.L2D_SHUTDOWN_DELAY ?? 5);
  const drain = Number(env.L2D_DRAIN_TIMEOUT ?? 10);
  const grace = pod.terminationGracePeriodSeconds ?? 30;
  if (!(grace > delay + drain))
    errs.push(`terminationGracePeriodSeconds ${grace} is not above shutdown delay ${delay} + drain timeout ${drain}`);

  const svcs = byKind(docs, "Service");
  if (svcs.length !== 1) errs.push(`want one Service, found ${svcs.length}`);
  for (const s of svcs) {
    if (!labelsMatch(s.spec.selector, labels)) errs.push("Service selector does not match the pod labels");
    for (const p of s.spec.ports || [])
      if (p.targetPort !== "http" && p.targetPort !== port) errs.push(`Service targetPort ${p.targetPort} is not the container's`);
  }
  const hpas = byKind(docs, "HorizontalPodAutoscaler");
  if (hpas.length !== 1 || hpas[0].apiVersion !== "autoscaling/v2") errs.push("want one autoscaling/v2 HorizontalPodAutoscaler");
  for (const h of hpas) {
    const t = h.spec.scaleTargetRef;
    if (t.kind !== "Deployment" || t.name !== dep.metadata.name) errs.push("HPA does not target the Deployment");
    if (!(h.spec.metrics || []).some((m) => m.type === "Resource" && m.resource?.name === "cpu"))
      errs.push("HPA does not scale on CPU");
  }
  const pdbs = byKind(docs, "PodDisruptionBudget");
  if (pdbs.length !== 1 || pdbs[0].apiVersion !== "policy/v1") errs.push("want one policy/v1 PodDisruptionBudget");
  for (const p of pdbs)
    if (!labelsMatch(p.spec.selector?.matchLabels, labels)) errs.push("PDB selector does not match the pod labels");
  return errs;
}

// Broken copies that the checks above must reject (name, mutation).
const MUTANTS = [
  ["replicas as a string (schema)", (d) => { byKind(d, "Deployment")[0].spec.replicas = "three"; }],
  ["HPA metric without a target (schema)", (d) => { delete byKind(d, "HorizontalPodAutoscaler")[0].spec.metrics[0].resource.target; }],
  ["liveness on /readyz", (d) => { l2dContainer(d).livenessProbe.httpGet.path = "/readyz"; }],
  ["readiness on /healthz", (d) => { l2dContainer(d).readinessProbe.httpGet.path = "/healthz"; }],
  ["no memory limit", (d) => { delete l2dContainer(d).resources.limits.memory; }],
  ["writable root filesystem", (d) => { l2dContainer(d).securityContext.readOnlyRootFilesystem = false; }],
  ["root allowed", (d) => { delete byKind(d, "Deployment")[0].spec.template.spec.securityContext.runAsNonRoot; }],
  ["grace period 15 s", (d) => { byKind(d, "Deployment")[0].spec.template.spec.terminationGracePeriodSeconds = 15; }],
  ["port 9090 in the container only", (d) => { l2dContainer(d).ports[0].containerPort = 9090; }],
  ["Service selecting other pods", (d) => { byKind(d, "Service")[0].spec.selector = { app: "other" }; }],
];

function l2dContainer(docs) {
  return byKind(docs, "Deployment")[0].spec.template.spec.containers.find((x) => x.name === "l2d");
}

async function allErrors(docs) {
  const errs = [];
  for (const d of docs) {
    const e = await schemaErrors(d);
    if (e) errs.push(`${d?.kind} ${d?.metadata?.name}: ${e}`);
  }
  return errs.length ? errs : ruleErrors(docs);
}

// --- the probes against the built binary -------------------------------------

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function get(url) {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  await res.arrayBuffer();
  return res.status;
}

// Starts l2d with the container's environment, on 127.0.0.1 and a free port
// instead of the pod's address; resolves to { proc, base, exited }.
async function startL2d(env) {
  const childEnv = { PATH: process.env.PATH };
  Object.assign(childEnv, env, { L2D_BIND: "127.0.0.1", L2D_PORT: "0" });
  const proc = spawn(L2D, [], { env: childEnv, stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  const exited = new Promise((r) => proc.on("exit", (code, sig) => r({ code, sig })));
  proc.stderr.on("data", (b) => { log += b; });
  for (let i = 0; i < 100; i++) {
    // The startup line, in the text or the JSON log format.
    const m = log.match(/listening on http:\/\/127\.0\.0\.1:(\d+) |"msg":"listening".*"port":(\d+)/);
    if (m) return { proc, base: `http://127.0.0.1:${m[1] || m[2]}`, exited };
    if (proc.exitCode !== null) break;
    await sleep(50);
  }
  proc.kill("SIGKILL");
  fail(`l2d with the Deployment's environment did not start: ${log.trim()}`);
}

async function checkBinary(docs) {
  const c = l2dContainer(docs);
  const env = envOf(c);
  const help = execFileSync(L2D, ["--help"], { encoding: "utf8" });
  for (const name of Object.keys(env)) {
    const flag = "--" + name.slice(4).toLowerCase().replace(/_/g, "-");
    if (!name.startsWith("L2D_") || !help.includes(flag + " "))
      fail(`the Deployment sets ${name}, but l2d --help has no ${flag}`);
  }
  const live = c.livenessProbe.httpGet.path;
  const ready = c.readinessProbe.httpGet.path;
  const s = await startL2d(env);
  try {
    for (const p of [live, ready]) {
      const st = await get(s.base + p);
      if (st !== 200) fail(`GET ${p} answered ${st}, want 200`);
      console.log(`${NAME}: GET ${p} -> 200 (l2d with the Deployment's settings)`);
    }
    // In lame duck readiness fails at once and liveness does not.
    s.proc.kill("SIGTERM");
    let readyStatus = 0;
    for (let i = 0; i < 40 && readyStatus !== 503; i++) {
      readyStatus = await get(s.base + ready).catch(() => -1);
      if (readyStatus !== 503) await sleep(50);
    }
    if (readyStatus !== 503) fail(`GET ${ready} after SIGTERM answered ${readyStatus}, want 503`);
    const liveStatus = await get(s.base + live).catch(() => -1);
    if (liveStatus !== 200) fail(`GET ${live} after SIGTERM answered ${liveStatus}, want 200`);
    console.log(`${NAME}: after SIGTERM: GET ${ready} -> 503, GET ${live} -> 200`);
  } finally {
    s.proc.kill("SIGKILL");
    await s.exited;
  }
}

// --- main --------------------------------------------------------------------

const files = readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f)).sort();
if (files.length === 0) fail(`no manifests in ${DIR}`);
const docs = [];
for (const f of files) {
  for (const d of yaml.loadAll(readFileSync(join(DIR, f), "utf8"))) if (d) docs.push(d);
  console.log(`${NAME}: read deploy/kubernetes/${f}`);
}
const errs = await allErrors(docs);
if (errs.length) fail("deploy/kubernetes:\n  " + errs.join("\n  "));
console.log(`${NAME}: ${docs.length} manifests valid (Kubernetes schemas of kubernetes-models) and every rule holds`);
for (const [what, mutate] of MUTANTS) {
  const copy = structuredClone(docs);
  mutate(copy);
  const e = await allErrors(copy);
  if (e.length === 0) fail(`a broken copy passed the checks: ${what}`);
}
console.log(`${NAME}: ${MUTANTS.length} broken copies all rejected`);
await checkBinary(docs);
console.log(`${NAME}: ok`);

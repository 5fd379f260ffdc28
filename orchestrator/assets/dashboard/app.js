// The gramfleet dashboard page: polls the server's JSON API (orchestrator/src/dashboard/server.ts)
// and draws with uPlot (served from node_modules). No state is kept but what is on screen, and
// the samples of the series the page itself watches (shards done over time while a job runs).
/* global uPlot */
'use strict';
(function () {
  const POLL_MS = 1000;
  const $ = (sel) => document.querySelector(sel);
  const el = (tag, attrs, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') e.className = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else if (v !== undefined && v !== null) e.setAttribute(k, String(v));
    }
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  };

  async function api(path, init) {
    const r = await fetch(path, init);
    const body = await r.json();
    if (!r.ok) throw new Error(body && body.error ? body.error.message : r.status + ' ' + path);
    return body;
  }

  function showError(e) {
    $('#error').textContent = e ? String(e.message || e) : '';
  }

  function ago(ms) {
    const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    return s < 60 ? s + ' s ago' : Math.round(s / 60) + ' min ago';
  }

  // --- cluster ---
  async function refreshCluster() {
    const c = await api('/api/cluster');
    const tbody = $('#workers tbody');
    tbody.replaceChildren(
      ...c.workers.map((w) =>
        el(
          'tr',
          { 'data-worker-id': w.workerId },
          el('td', {}, w.workerId),
          el('td', {}, w.cls),
          el('td', {}, w.host),
          el('td', {}, w.pid),
          el('td', {}, w.threads),
          el('td', {}, w.kernels ? w.kernels.build + ' ×' + w.kernels.threadsPerShard : '-'),
          el('td', { class: 'shards-done' }, w.shardsDone),
          el('td', {}, ago(w.beatAt)),
        ),
      ),
    );
    $('#processes').textContent = c.processes.length ? 'processes: ' + c.processes.map((p) => p.name + (p.alive ? '' : ' (DEAD)')).join(', ') : '';
  }

  // --- jobs list ---
  let selected = null;
  function fractionCell(j) {
    if (j.state === 'completed') return el('progress', { max: 1, value: 1 });
    return el('progress', { max: 1 });
  }

  async function refreshJobs() {
    const kind = $('#kind-filter').value;
    const r = await api('/api/jobs' + (kind ? '?kind=' + encodeURIComponent(kind) : ''));
    const tbody = $('#jobs tbody');
    tbody.replaceChildren(
      ...r.jobs.map((j) => {
        const tr = el(
          'tr',
          { 'data-job-id': j.jobId, 'data-kind': j.kind, 'data-state': j.state, class: j.jobId === selected ? 'selected' : '' },
          el('td', {}, el('a', { href: '#job=' + encodeURIComponent(j.jobId) }, j.jobId)),
          el('td', {}, j.kind),
          el('td', { class: 'state-' + j.state }, j.state),
          el('td', { class: 'progress' }, fractionCell(j)),
          el('td', {}, j.startTime ? new Date(j.startTime).toLocaleTimeString() : ''),
          el('td', {}, j.state === 'running' ? el('button', { class: 'cancel', 'data-job-id': j.jobId, onclick: () => cancel(j.jobId) }, 'cancel') : ''),
        );
        return tr;
      }),
    );
  }

  async function cancel(jobId) {
    if (!window.confirm('Cancel job ' + jobId + '?')) return;
    try {
      await api('/api/jobs/' + encodeURIComponent(jobId) + '/cancel', { method: 'POST' });
      await refreshJobs();
    } catch (e) {
      showError(e);
    }
  }

  // --- one job ---
  const plots = new Map(); // name -> { u, el }
  const samples = new Map(); // jobId -> [[t], [done]] observed by this page while it ran

  function plot(name, title, series, data, xLabel) {
    let p = plots.get(name);
    const points = data[0].length;
    if (p === undefined) {
      const box = el('div', { class: 'plot', 'data-plot': name }, el('h3', {}, title));
      $('#plots').append(box);
      const u = new uPlot(
        {
          width: 460,
          height: 260,
          scales: { x: { time: xLabel === 'time' } },
          axes: [{ label: xLabel === 'time' ? '' : xLabel }, {}],
          series: [{ label: xLabel }, ...series.map((s) => ({ spanGaps: true, points: { show: true }, width: 2, ...s }))],
        },
        data,
        box,
      );
      p = { u, box };
      plots.set(name, p);
    } else p.u.setData(data);
    p.box.setAttribute('data-points', String(points));
  }

  function clearPlots() {
    for (const p of plots.values()) p.u.destroy();
    plots.clear();
    $('#plots').replaceChildren();
  }

  function drawEigenPro(d) {
    const ep = d.series.epochs || [];
    const x = ep.map((e) => e.epoch);
    const v = (k) => ep.map((e) => (e[k] === undefined ? null : e[k]));
    plot(
      'eigenpro-mse',
      'MSE per epoch',
      [
        { label: 'train MSE', stroke: '#1a73e8' },
        { label: 'test MSE', stroke: '#e8710a' },
      ],
      [x, v('trainMse'), v('testMse')],
      'epoch',
    );
    if (ep.some((e) => e.trainAccuracy !== undefined || e.testAccuracy !== undefined))
      plot(
        'eigenpro-accuracy',
        'accuracy per epoch',
        [
          { label: 'train accuracy', stroke: '#1a73e8' },
          { label: 'test accuracy', stroke: '#e8710a' },
        ],
        [x, v('trainAccuracy'), v('testAccuracy')],
        'epoch',
      );
  }

  // Shards (or systems, or runs) done over time: sampled by this page while the job runs, with the
  // start (0 done) and, once finished, the close time.
  function drawDoneOverTime(d) {
    const p = d.progress || {};
    const done = p.shardsDone ?? p.systemsDone ?? (p.runsDone !== undefined ? p.runsDone + (p.runsFailed || 0) : undefined);
    let s = samples.get(d.jobId);
    if (s === undefined) {
      s = [[], []];
      if (d.startTime) {
        s[0].push(Date.parse(d.startTime) / 1000);
        s[1].push(0);
      }
      samples.set(d.jobId, s);
    }
    if (done !== undefined) {
      const t = d.closeTime ? Date.parse(d.closeTime) / 1000 : Date.now() / 1000;
      if (s[0].length === 0 || t > s[0][s[0].length - 1]) {
        s[0].push(t);
        s[1].push(done);
      } else s[1][s[1].length - 1] = done;
    }
    const what = p.shardsDone !== undefined ? 'shards' : p.systemsDone !== undefined ? 'systems' : 'runs';
    plot('done-over-time', what + ' done over time', [{ label: what + ' done', stroke: '#188038' }], [s[0].slice(), s[1].slice()], 'time');
  }

  let shownJob = null;
  async function refreshJob() {
    const m = /job=([^&]+)/.exec(location.hash);
    const jobId = m ? decodeURIComponent(m[1]) : null;
    selected = jobId;
    if (jobId === null) {
      $('#job').hidden = true;
      return;
    }
    if (jobId !== shownJob) {
      clearPlots();
      shownJob = jobId;
    }
    const d = await api('/api/jobs/' + encodeURIComponent(jobId));
    $('#job').hidden = false;
    $('#job').setAttribute('data-job-id', d.jobId);
    $('#job').setAttribute('data-state', d.state);
    $('#job-id').textContent = d.jobId;
    $('#job-kind').textContent = d.kind;
    $('#job-state').textContent = d.state + (d.fraction !== undefined ? ' ' + Math.round(d.fraction * 100) + ' %' : '');
    $('#job-actions').replaceChildren(
      d.state === 'running' ? el('button', { class: 'cancel', 'data-job-id': d.jobId, onclick: () => cancel(d.jobId) }, 'cancel job') : '',
      d.failure ? el('span', { class: 'failure' }, d.failure) : '',
    );
    if (d.kind === 'eigenpro') drawEigenPro(d);
    else drawDoneOverTime(d);
    $('#job-progress').textContent = JSON.stringify(d.progress, null, 2);
    const row = document.querySelector('#jobs tr[data-job-id="' + CSS.escape(d.jobId) + '"] td.progress progress');
    if (row && d.fraction !== undefined) row.value = d.fraction;
  }

  async function tick() {
    try {
      await Promise.all([refreshCluster(), refreshJobs()]);
      await refreshJob();
      $('#updated').textContent = 'updated ' + new Date().toLocaleTimeString();
      showError(null);
    } catch (e) {
      showError(e);
    }
  }

  async function start() {
    try {
      const k = await api('/api/kinds');
      for (const kind of k.kinds) $('#kind-filter').append(el('option', { value: kind }, kind));
    } catch (e) {
      showError(e);
    }
    $('#kind-filter').addEventListener('change', () => void tick());
    window.addEventListener('hashchange', () => void tick());
    let running = false;
    const loop = async () => {
      if (!running) {
        running = true;
        await tick();
        running = false;
      }
      setTimeout(loop, POLL_MS);
    };
    void loop();
  }
  void start();
})();

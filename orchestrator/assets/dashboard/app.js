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
    const statsOf = (w) => (c.processes.find((p) => p.pid === w.pid && p.stats) || {}).stats || {};
    const mb = (b) => (b === undefined ? '-' : (b / 2 ** 20).toFixed(1) + ' MB');
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
          el('td', { class: 'in-flight' }, statsOf(w).tasksInFlight ?? '-'),
          el(
            'td',
            { class: 'current' },
            (w.current || []).length ? w.current.map((t) => t.op + ' ' + t.jobId + '/' + t.shardId + ' (' + ago(t.since) + ')').join(', ') : 'idle',
          ),
          el('td', { class: 'cache' }, mb(statsOf(w).cacheBytes) + (statsOf(w).cacheHits !== undefined ? ' / ' + statsOf(w).cacheHits + ' hits' : '')),
          el('td', {}, ago(w.beatAt)),
        ),
      ),
    );
    $('#queues tbody').replaceChildren(
      ...c.queues.map((q) =>
        el(
          'tr',
          { 'data-class': q.cls },
          el('td', {}, q.cls),
          el('td', { class: 'pending' }, q.pending),
          el('td', { class: 'lag' }, q.lagMs === undefined ? '-' : (q.lagMs / 1000).toFixed(1) + ' s'),
          el('td', {}, q.ackPending),
          el('td', {}, q.redelivered),
          el('td', {}, q.lastActive ? ago(Date.parse(q.lastActive)) : '-'),
        ),
      ),
    );
    drawUtilisation(c);
    $('#processes').textContent = c.processes.length ? 'processes: ' + c.processes.map((p) => p.name + (p.alive ? '' : ' (DEAD)')).join(', ') : '';
  }

  // Utilisation over time: each worker's shards done per second between two polls of the
  // registry, sampled by this page (the registry holds each worker's running count).
  const util = { ids: [], t: [], rates: [], last: new Map() };
  function drawUtilisation(c) {
    const now = Date.parse(c.at) / 1000;
    const ids = c.workers.map((w) => w.workerId).sort();
    if (ids.join() !== util.ids.join()) {
      util.ids = ids;
      util.t = [];
      util.rates = ids.map(() => []);
      if (clusterPlot) clusterPlot.destroy();
      clusterPlot = null;
    }
    const rates = ids.map((id) => {
      const w = c.workers.find((x) => x.workerId === id);
      const prev = util.last.get(id);
      util.last.set(id, { t: now, done: w.shardsDone });
      return prev && now > prev.t ? Math.max(0, (w.shardsDone - prev.done) / (now - prev.t)) : null;
    });
    util.t.push(now);
    rates.forEach((r, i) => util.rates[i].push(r));
    if (util.t.length > 600) {
      util.t.shift();
      util.rates.forEach((r) => r.shift());
    }
    const data = [util.t.slice(), ...util.rates.map((r) => r.slice())];
    if (!clusterPlot && ids.length > 0) {
      const palette = ['#1a73e8', '#e8710a', '#188038', '#c5221f', '#9334e6', '#12b5cb', '#f9ab00', '#5f6368'];
      clusterPlot = new uPlot(
        {
          width: 560,
          height: 200,
          scales: { x: { time: true } },
          series: [{}, ...ids.map((id, i) => ({ label: id.split('-').slice(0, 2).join('-'), stroke: palette[i % palette.length], width: 2, spanGaps: true }))],
          axes: [{}, { label: 'shards/s' }],
        },
        data,
        $('#utilisation'),
      );
    } else if (clusterPlot) clusterPlot.setData(data);
    $('#utilisation').setAttribute('data-points', String(util.t.length));
  }
  let clusterPlot = null;

  // --- jobs list ---
  let selected = null;
  function fractionCell(j) {
    if (j.state === 'completed') return el('progress', { max: 1, value: 1 });
    // Running: filled in from the job's detail when it is shown; otherwise indeterminate.
    return j.state === 'running' ? el('progress', { max: 1 }) : el('progress', { max: 1, value: 0 });
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
          el('td', {}, j.startedAt ? new Date(j.startedAt).toLocaleTimeString() : ''),
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

  function plot(name, title, series, data, xLabel, yScale) {
    let p = plots.get(name);
    const points = data[0].length;
    if (p === undefined) {
      const box = el('div', { class: 'plot', 'data-plot': name }, el('h3', {}, title));
      $('#plots').append(box);
      const u = new uPlot(
        {
          width: 460,
          height: 260,
          scales: { x: { time: xLabel === 'time' }, ...(yScale || {}) },
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

  // Datagen: each system's solve along the chain (chunk by chunk, in chain order).
  function drawDatagen(d) {
    const sys = d.series.systems || [];
    const x = sys.map((_, i) => i);
    plot(
      'datagen-solves',
      'iterations and mat-vecs per system',
      [
        { label: 'iterations', stroke: '#1a73e8' },
        { label: 'mat-vecs', stroke: '#e8710a' },
        { label: 'recycled dim k', stroke: '#188038' },
      ],
      [x, sys.map((p) => p.iterations), sys.map((p) => p.matvecs), sys.map((p) => p.k)],
      'system',
    );
    plot(
      'datagen-residual',
      'relative residual per system',
      [{ label: 'relres', stroke: '#c5221f' }],
      [x, sys.map((p) => (p.relres > 0 ? p.relres : null))],
      'system',
      {
        y: { distr: 3 },
      },
    );
  }

  // Kronecker GP: a fit's LML and gradient norm per optimiser step, a PCG solve's residual per
  // iteration (the loops' progress events while it runs, the result's history once done).
  function drawKron(d) {
    const lml = d.series.lml;
    const gn = d.series.gradNorm;
    const pcg = d.series.pcg;
    if (lml && lml.length) {
      const x = lml.map((_, i) => i + 1);
      plot('kron-lml', 'LML per optimiser step', [{ label: 'LML', stroke: '#9334e6' }], [x, lml.slice()], 'step');
      if (gn && gn.length)
        plot(
          'kron-gradnorm',
          'gradient norm per optimiser step',
          [{ label: '‖∇θ LML‖₂', stroke: '#c5221f' }],
          [x, gn.map((v) => (v > 0 && Number.isFinite(v) ? v : null))],
          'step',
          { y: { distr: 3 } },
        );
    }
    if (pcg && pcg.length)
      plot(
        'kron-pcg',
        'PCG relative residual per iteration',
        [{ label: '‖r‖/‖b‖', stroke: '#1a73e8' }],
        [pcg.map((p) => p.iteration), pcg.map((p) => (p.residual > 0 ? p.residual : null))],
        'iteration',
        { y: { distr: 3 } },
      );
    if (!(lml && lml.length) && !(pcg && pcg.length)) drawDoneOverTime(d);
  }

  // GRF: shards done over time, from the workflow's history (each completed batch).
  function drawGrf(d) {
    const pts = d.series.shards || [];
    plot(
      'grf-shards',
      'shards done over time' + (d.series.shardsTotal !== undefined ? ' (of ' + d.series.shardsTotal + ')' : ''),
      [{ label: 'shards done', stroke: '#188038' }],
      [pts.map((p) => p.t / 1000), pts.map((p) => p.done)],
      'time',
    );
  }

  // Campaigns: the result table, and one numeric parameter against one numeric metric.
  const scatterChoice = { param: null, metric: null };
  // Numeric keys of params or metrics, those that vary across the runs first.
  function numericKeys(rows, field) {
    const values = new Map();
    for (const r of rows)
      for (const [k, v] of Object.entries(r[field] || {}))
        if (typeof v === 'number' && Number.isFinite(v)) {
          if (!values.has(k)) values.set(k, new Set());
          values.get(k).add(v);
        }
    const varies = (k) => (values.get(k).size > 1 ? 0 : 1);
    return [...values.keys()].sort((a, b) => varies(a) - varies(b) || a.localeCompare(b));
  }
  function drawCampaign(d) {
    const rows = d.series.rows || [];
    const params = [...new Set(rows.flatMap((r) => Object.keys(r.params || {})))].sort();
    const metrics = [...new Set(rows.flatMap((r) => Object.keys(r.metrics || {})))].sort();
    const fmt = (v) =>
      v === undefined
        ? ''
        : typeof v === 'number'
          ? Number.isInteger(v)
            ? String(v)
            : v.toPrecision(4)
          : typeof v === 'object'
            ? JSON.stringify(v)
            : String(v);
    let box = document.querySelector('#plots .campaign');
    if (!box) {
      box = el('div', { class: 'campaign' });
      $('#plots').append(box);
    }
    const table = el(
      'table',
      { id: 'campaign-rows' },
      el('thead', {}, el('tr', {}, el('th', {}, '#'), el('th', {}, 'status'), ...params.map((p) => el('th', {}, p)), ...metrics.map((m) => el('th', {}, m)))),
      el(
        'tbody',
        {},
        ...rows.map((r) =>
          el(
            'tr',
            { 'data-index': r.index, 'data-status': r.status },
            el('td', {}, r.index),
            el('td', {}, r.status),
            ...params.map((p) => el('td', {}, fmt(r.params[p]))),
            ...metrics.map((m) => el('td', {}, fmt(r.metrics[m]))),
          ),
        ),
      ),
    );
    const np = numericKeys(rows, 'params');
    const nm = numericKeys(rows, 'metrics');
    if (!np.includes(scatterChoice.param)) scatterChoice.param = np[0] || null;
    if (!nm.includes(scatterChoice.metric)) scatterChoice.metric = nm.find((m) => /acc|mse|error|lml|residual/i.test(m)) || nm[0] || null;
    const select = (id, keys, key) =>
      el(
        'select',
        {
          id,
          onchange: (ev) => {
            scatterChoice[key] = ev.target.value;
            const old = plots.get('campaign-scatter');
            if (old) {
              old.u.destroy();
              old.box.remove();
              plots.delete('campaign-scatter');
            }
            drawCampaign(d);
          },
        },
        ...keys.map((k) => {
          const o = el('option', { value: k }, k);
          if (k === scatterChoice[key]) o.selected = true;
          return o;
        }),
      );
    box.replaceChildren(
      el('h3', {}, 'runs (' + rows.length + ')'),
      el('div', { class: 'scroll' }, table),
      np.length && nm.length ? el('div', {}, 'scatter: ', select('scatter-param', np, 'param'), ' vs ', select('scatter-metric', nm, 'metric')) : '',
    );
    if (scatterChoice.param && scatterChoice.metric) {
      const pts = rows
        .filter((r) => typeof r.params[scatterChoice.param] === 'number' && typeof r.metrics[scatterChoice.metric] === 'number')
        .map((r) => [r.params[scatterChoice.param], r.metrics[scatterChoice.metric]])
        .sort((a, b) => a[0] - b[0]);
      plot(
        'campaign-scatter',
        scatterChoice.metric + ' vs ' + scatterChoice.param,
        [{ label: scatterChoice.metric, stroke: '#9334e6', paths: () => null, points: { show: true, size: 8 } }],
        [pts.map((p) => p[0]), pts.map((p) => p[1])],
        scatterChoice.param,
      );
    }
  }

  // Shards (or systems, or runs) done over time: sampled by this page while the job runs, with the
  // start (0 done) and, once finished, the close time.
  function drawDoneOverTime(d) {
    const p = d.progress || {};
    const done = p.shardsDone ?? p.systemsDone ?? (p.runsDone !== undefined ? p.runsDone + (p.runsFailed || 0) : undefined);
    let s = samples.get(d.jobId);
    if (s === undefined) {
      s = [[], []];
      if (d.startedAt) {
        s[0].push(Date.parse(d.startedAt) / 1000);
        s[1].push(0);
      }
      samples.set(d.jobId, s);
    }
    if (done !== undefined) {
      const t = d.closedAt ? Date.parse(d.closedAt) / 1000 : Date.now() / 1000;
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
      d.error ? el('span', { class: 'failure' }, d.error.code + ': ' + d.error.message) : '',
    );
    if (d.kind === 'eigenpro') drawEigenPro(d);
    else if (d.kind === 'grf') drawGrf(d);
    else if (d.kind === 'datagen') drawDatagen(d);
    else if (d.kind === 'kron-gp') drawKron(d);
    else if (d.kind === 'campaign') drawCampaign(d);
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

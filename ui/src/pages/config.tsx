import { useState } from 'preact/hooks';
import { api, type Role } from '../api.js';
import { Dialog, ErrorBox, useLoad } from '../components/common.js';
import { get } from '../api.js';

type ReloadOutcome =
  | { status: 'reloaded'; restart_required: string[] }
  | { status: 'refused'; problems: string[] }
  | { status: 'requested' };

export function Config({ role }: { readonly role: Role }) {
  const config = useLoad(() => get('/admin/config'), []);
  const [confirming, setConfirming] = useState(false);
  const [outcome, setOutcome] = useState<ReloadOutcome | null>(null);
  const [problem, setProblem] = useState<unknown>(null);
  return (
    <>
      <h1>Config</h1>
      <div class="toolbar">
        {role === 'admin' ? (
          <button
            type="button"
            onClick={() => {
              setConfirming(true);
            }}
          >
            Reload the config file
          </button>
        ) : null}
        <span class="notice">The effective config, defaults filled in; every secret is masked.</span>
      </div>
      <ErrorBox error={config.error ?? problem} />
      {outcome === null ? null : (
        <div class="panel" role="status" style={{ marginBottom: '12px' }}>
          {outcome.status === 'reloaded'
            ? `Reloaded.${outcome.restart_required.length === 0 ? '' : ` These changes need a restart: ${outcome.restart_required.join(', ')}.`}`
            : outcome.status === 'refused'
              ? `Refused; the running config stays: ${outcome.problems.join('; ')}`
              : 'Every worker was asked to reload.'}
        </div>
      )}
      <pre aria-label="Effective config" tabIndex={0}>
        {config.value === null ? '' : JSON.stringify(config.value, null, 2)}
      </pre>
      <Dialog
        open={confirming}
        title="Reload the config file?"
        onClose={() => {
          setConfirming(false);
        }}
      >
        <p>The gateway reads its config file again, as on SIGHUP. A config with a problem is refused.</p>
        <div class="dialog-actions">
          <button
            type="button"
            onClick={() => {
              setConfirming(false);
            }}
          >
            Cancel
          </button>
          <button
            type="button"
            class="primary"
            onClick={() => {
              setConfirming(false);
              api('POST', '/admin/reload').then(
                (answer) => {
                  setOutcome(answer as ReloadOutcome);
                  config.reload();
                },
                (error: unknown) => {
                  setProblem(error);
                },
              );
            }}
          >
            Reload
          </button>
        </div>
      </Dialog>
    </>
  );
}

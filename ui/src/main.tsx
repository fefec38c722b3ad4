import { render } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { currentSession, errorText, get, signOut, useSession, whenSignedOut, type Session } from './api.js';
import { Backends } from './pages/backends.js';
import { Config } from './pages/config.js';
import { Keys } from './pages/keys.js';
import { Overview } from './pages/overview.js';
import { Requests } from './pages/requests.js';
import { SignIn } from './pages/sign-in.js';
import { Teams } from './pages/teams.js';
import { PAGES, parseRoute, pathOf } from './lib/routes.js';
import './styles.css';

type Theme = 'system' | 'light' | 'dark';
const THEME_KEY = 'ai-gateway-ui-theme';

function storedTheme(): Theme {
  const value = localStorage.getItem(THEME_KEY);
  return value === 'light' || value === 'dark' ? value : 'system';
}

function applyTheme(theme: Theme): void {
  if (theme === 'system') delete document.documentElement.dataset['theme'];
  else document.documentElement.dataset['theme'] = theme;
}

function effectiveTheme(theme: Theme): 'light' | 'dark' {
  if (theme !== 'system') return theme;
  return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

function App() {
  const [session, setSession] = useState<Session | null | 'loading'>('loading');
  const [reason, setReason] = useState<string | null>(null);
  const [path, setPath] = useState(location.pathname);
  const [theme, setTheme] = useState<Theme>(storedTheme);
  const [thresholds, setThresholds] = useState<readonly number[]>([0.5, 0.8, 1]);

  const navigate = useCallback((next: string, replace = false) => {
    if (replace) history.replaceState(null, '', next);
    else history.pushState(null, '', next);
    setPath(new URL(next, location.href).pathname);
  }, []);

  useEffect(() => {
    const onPop = () => {
      setPath(location.pathname);
    };
    window.addEventListener('popstate', onPop);
    whenSignedOut(() => {
      useSession(null);
      setReason('Your session has ended; sign in again.');
      setSession(null);
    });
    currentSession().then(
      (found) => {
        useSession(found);
        setSession(found);
      },
      (error: unknown) => {
        setReason(errorText(error));
        setSession(null);
      },
    );
    return () => {
      window.removeEventListener('popstate', onPop);
    };
  }, []);

  useEffect(() => {
    applyTheme(theme);
  }, [theme]);

  // The alert thresholds (alerts.thresholds) for the budget bars.
  useEffect(() => {
    if (session === null || session === 'loading') return;
    get('/admin/config').then(
      (config) => {
        const value = (config as { alerts?: { thresholds?: unknown } }).alerts?.thresholds;
        if (Array.isArray(value) && value.every((item) => typeof item === 'number')) setThresholds(value);
      },
      () => undefined,
    );
  }, [session]);

  if (session === 'loading')
    return (
      <p class="notice" style={{ padding: '16px' }}>
        Loading…
      </p>
    );
  if (session === null)
    return (
      <SignIn
        reason={reason}
        onSignedIn={(next) => {
          useSession(next);
          setReason(null);
          setSession(next);
        }}
      />
    );

  const route = parseRoute(path);
  const shown = effectiveTheme(theme);
  const page = (() => {
    switch (route.page) {
      case 'overview':
        return <Overview theme={shown} />;
      case 'keys':
        return <Keys role={session.role} selected={route.item} navigate={navigate} thresholds={thresholds} />;
      case 'teams':
        return <Teams thresholds={thresholds} />;
      case 'requests':
        return <Requests selected={route.item} navigate={navigate} />;
      case 'backends':
        return <Backends />;
      case 'config':
        return <Config role={session.role} />;
    }
  })();

  return (
    <>
      <a class="skip-link" href="#main">
        Skip to the page
      </a>
      <header class="top">
        <span class="brand">ai-gateway</span>
        <nav class="pages" aria-label="Pages">
          {PAGES.map((candidate) => (
            <a
              key={candidate.id}
              href={candidate.path}
              aria-current={route.page === candidate.id ? 'page' : undefined}
              onClick={(event) => {
                if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
                event.preventDefault();
                navigate(pathOf(candidate.id));
              }}
            >
              {candidate.title}
            </a>
          ))}
        </nav>
        <div class="top-actions">
          <span class="role" title={`Signed in until ${session.expires_at}`}>
            {session.role === 'admin' ? 'admin' : 'viewer (read-only)'}
          </span>
          <button
            type="button"
            aria-label={`Theme: ${theme}. Switch theme`}
            onClick={() => {
              const next: Theme = shown === 'dark' ? 'light' : 'dark';
              localStorage.setItem(THEME_KEY, next);
              // Before the render: the charts read the theme's colours when they redraw.
              applyTheme(next);
              setTheme(next);
            }}
          >
            {shown === 'dark' ? 'Light' : 'Dark'}
          </button>
          <button
            type="button"
            onClick={() => {
              signOut().then(
                () => {
                  useSession(null);
                  setReason('Signed out.');
                  setSession(null);
                },
                (error: unknown) => {
                  setReason(errorText(error));
                },
              );
            }}
          >
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {page}
      </main>
    </>
  );
}

applyTheme(storedTheme());
const root = document.getElementById('app');
if (root !== null) render(<App />, root);

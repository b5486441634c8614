import { useEffect, useState } from 'preact/hooks';
import { store } from './store';

/** Re-renders the component whenever the store changes. */
export function useStore(): typeof store {
  const [, setVersion] = useState(0);
  useEffect(() => store.subscribe(() => setVersion((version) => version + 1)), []);
  return store;
}

function currentRoute(): string[] {
  return location.hash.replace(/^#\/?/, '').split('/').filter(Boolean);
}

/** Hash routes (#/c/<id>, #/profile…): plain static hosting serves every screen. */
export function useRoute(): string[] {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const update = () => setRoute(currentRoute());
    addEventListener('hashchange', update);
    return () => removeEventListener('hashchange', update);
  }, []);
  return route;
}

export function useOnline(): boolean {
  const [online, setOnline] = useState(navigator.onLine);
  useEffect(() => {
    const up = () => setOnline(true);
    const down = () => setOnline(false);
    addEventListener('online', up);
    addEventListener('offline', down);
    return () => {
      removeEventListener('online', up);
      removeEventListener('offline', down);
    };
  }, []);
  return online;
}

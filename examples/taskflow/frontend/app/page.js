// The task list, rendered on the server at each request from the API at
// NEXT_PUBLIC_API_URL (http://backend-service:8000 in the cluster): read at run
// time, from the chart's ConfigMap, never baked into the image.
export const dynamic = "force-dynamic";

async function tasks() {
  const api = process.env.NEXT_PUBLIC_API_URL;
  if (!api) return { error: "NEXT_PUBLIC_API_URL is not set" };
  try {
    const response = await fetch(`${api}/api/tasks`, { cache: "no-store" });
    if (!response.ok) return { error: `the API answered ${response.status}` };
    return { items: await response.json() };
  } catch (e) {
    return { error: `the API does not answer: ${e.message}` };
  }
}

export default async function Home() {
  const { items, error } = await tasks();
  return (
    <main>
      <h1>TaskFlow</h1>
      {error ? <p role="alert">{error}</p> : null}
      <ul>
        {(items || []).map((task) => (
          <li key={task.id}>
            {task.done ? "✓ " : ""}
            {task.title}
          </li>
        ))}
      </ul>
    </main>
  );
}

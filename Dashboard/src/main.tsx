/// <reference path="./globals.d.ts" />
import { App } from "./app.tsx";

const root = document.getElementById("root");
if (root) ReactDOM.createRoot(root).render(<App />);

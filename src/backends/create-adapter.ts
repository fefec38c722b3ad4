import type { BackendConfig } from '../config/config.js';
import type { BackendAdapter } from './adapter.js';
import { DemoAdapter } from './demo/demo-adapter.js';
import { OllamaAdapter } from './ollama/ollama-adapter.js';
import { OpenAiAdapter } from './openai/openai-adapter.js';

export function createAdapter(backend: BackendConfig): BackendAdapter {
  switch (backend.type) {
    case 'openai':
      return new OpenAiAdapter(backend);
    case 'ollama':
      return new OllamaAdapter(backend);
    case 'demo':
      return new DemoAdapter(backend.name);
    case 'anthropic':
    case 'gemini':
    case 'vertex':
    case 'bedrock':
    case 'azure_openai':
      throw new Error(`backend type ${backend.type} is being built (issue 19)`);
  }
}

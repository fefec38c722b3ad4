import type { BackendConfig } from '../config/config.js';
import type { BackendAdapter } from './adapter.js';
import { AnthropicAdapter } from './anthropic/adapter.js';
import { BedrockAdapter } from './bedrock/adapter.js';
import { AzureOpenAiAdapter } from './azure-openai/azure-openai-adapter.js';
import { DemoAdapter } from './demo/demo-adapter.js';
import { GeminiAdapter } from './gemini/adapter.js';
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
    case 'azure_openai':
      return new AzureOpenAiAdapter(backend);
    case 'anthropic':
      return new AnthropicAdapter(backend);
    case 'gemini':
    case 'vertex':
      return new GeminiAdapter(backend);
    case 'bedrock':
      return new BedrockAdapter(backend);
  }
}

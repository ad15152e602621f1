import { describeLanes, SERVICE_LANES } from '../test-support/lanes.js';
import { chatHistoryTests } from './suites/ai-sdk-chat-history.js';

describeLanes(SERVICE_LANES, 'the AI SDK chat history recipe', chatHistoryTests);

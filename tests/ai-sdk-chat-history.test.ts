import { describeLanes, LOCAL_LANES } from '../test-support/lanes.js';
import { chatHistoryTests } from './suites/ai-sdk-chat-history.js';

describeLanes(LOCAL_LANES, 'the AI SDK chat history recipe', chatHistoryTests);

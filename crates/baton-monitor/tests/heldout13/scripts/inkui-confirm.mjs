import React from 'react';
import { render, Box, Text } from 'ink';
import { ConfirmInput } from '@inkjs/ui';
render(React.createElement(Box, { gap: 1 },
  React.createElement(Text, null, 'Publish 3 packages to the registry?'),
  React.createElement(ConfirmInput, { onConfirm: () => process.exit(0), onCancel: () => process.exit(1) })));
